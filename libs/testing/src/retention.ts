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
 * with sequential scans disabled, and whether an index serves it: the plan reads an
 * index whose leading column is the rule's first column (`where` starts with it), and
 * never scans the table sequentially. A scan of a whole index with the rule applied to
 * each entry (the column second in the key, or in a filter) does not count: every pass
 * would read all of it all the same.
 */
export async function retentionPlan(
  databaseUrl: string,
  rule: { readonly table: string; readonly where: string; readonly params?: readonly unknown[] },
): Promise<{ readonly plan: string; readonly servedByIndex: boolean }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    const explain = `EXPLAIN %s SELECT ctid FROM ${rule.table} WHERE ${rule.where} LIMIT 1000`;
    const params = [...(rule.params ?? [])];
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      explain.replace('%s', ''),
      params,
    );
    const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
    const json = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      explain.replace('%s', '(FORMAT JSON)'),
      params,
    );
    const indexes = new Set<string>();
    const visit = (node: PlanNode): void => {
      if (node['Index Name'] && node['Index Cond']) indexes.add(node['Index Name']);
      node.Plans?.forEach(visit);
    };
    for (const root of json.rows[0]?.['QUERY PLAN'] ?? []) visit(root.Plan);
    const { rows: leading } = await client.query<{ column: string }>(
      `SELECT a.attname AS column
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE c.relname = ANY ($1::text[]) AND i.indrelid = $2::regclass`,
      [[...indexes], rule.table],
    );
    await client.query('ROLLBACK');
    const column = /^\s*\(?\s*(\w+)/.exec(rule.where)?.[1];
    const servedByIndex =
      !plan.includes(`Seq Scan on ${rule.table}`) && leading.some((row) => row.column === column);
    return { plan, servedByIndex };
  } finally {
    await client.end();
  }
}

interface PlanNode {
  readonly 'Index Name'?: string;
  readonly 'Index Cond'?: string;
  readonly Plans?: readonly PlanNode[];
}

/** The rules no index serves (retentionPlan), each with its plan: empty when all are. */
export async function rulesNotServedByIndex(
  databaseUrl: string,
  rules: readonly {
    readonly table: string;
    readonly where: string;
    readonly params?: readonly unknown[];
  }[],
): Promise<{ readonly table: string; readonly plan: string }[]> {
  const unserved: { table: string; plan: string }[] = [];
  for (const rule of rules) {
    const { plan, servedByIndex } = await retentionPlan(databaseUrl, rule);
    if (!servedByIndex) unserved.push({ table: rule.table, plan });
  }
  return unserved;
}
