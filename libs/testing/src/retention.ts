import pg from 'pg';

/**
 * Every table of the database's public schema whose comment does not state its
 * retention rule (`COMMENT ON TABLE ... IS 'retention: ...'`, written by the migration
 * that owns it): what issue 23 asks of every table, that nothing grows without a rule.
 * Partitions are covered by their parent's rule.
 */
export async function tablesWithoutRetentionRule(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ table: string }>(
      `SELECT c.relname AS table
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'retention: %'
        ORDER BY 1`,
    );
    return rows.map((row) => row.table);
  } finally {
    await client.end();
  }
}

/**
 * The plan of the rows a retention rule deletes (`SELECT ctid FROM table WHERE where`),
 * with sequential scans disabled: a plan that still says "Seq Scan on <table>" has no
 * index to serve the rule, and every pass would read the whole table.
 */
export async function retentionPlan(
  databaseUrl: string,
  rule: { readonly table: string; readonly where: string; readonly params?: readonly unknown[] },
): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT ctid FROM ${rule.table} WHERE ${rule.where} LIMIT 1000`,
      [...(rule.params ?? [])],
    );
    await client.query('ROLLBACK');
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await client.end();
  }
}
