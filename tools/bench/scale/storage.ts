// What the seeded data takes on disk: each table's rows and bytes (a partitioned table's
// partitions counted with it, indexes and TOAST included), each database's total, and
// whether the next size fits in the space left.
import { statfsSync } from 'node:fs';
import type pg from 'pg';

export interface TableSize {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
}

/**
 * Every table of the database with its exact row count and its bytes (for a partitioned
 * table, its partitions', which are not listed again; pg_partition_tree gives no row for
 * a table that is not partitioned). Tables under `minBytes` are left out.
 */
export async function tableSizes(db: pg.Pool, minBytes = 1 << 16): Promise<TableSize[]> {
  const { rows } = await db.query<{ table: string; bytes: string }>(
    `SELECT c.relname AS table,
            coalesce((SELECT sum(pg_total_relation_size(t.relid)) FROM pg_partition_tree(c.oid) t),
                     pg_total_relation_size(c.oid))::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  const sizes: TableSize[] = [];
  for (const row of rows) {
    if (Number(row.bytes) < minBytes) continue;
    const { rows: counted } = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${row.table.replace(/"/g, '""')}"`,
    );
    sizes.push({ table: row.table, rows: Number(counted[0]?.n ?? 0), bytes: Number(row.bytes) });
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

export async function databaseBytes(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>(
    'SELECT pg_database_size(current_database()) AS bytes',
  );
  return Number(rows[0]?.bytes ?? 0);
}

/** Bytes free where the container engine keeps the containers' layers (or on /). */
export function freeBytes(): number {
  for (const path of ['/var/lib/docker', '/']) {
    try {
      const stats = statfsSync(path);
      return stats.bavail * stats.bsize;
    } catch {
      // Not there: the next.
    }
  }
  return Number.POSITIVE_INFINITY;
}

export const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
