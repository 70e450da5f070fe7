import type { Queryable } from '@vaxguard/db';

/** The log's entries table as pg_partman names it (partman.part_config.parent_table). */
export const ENTRIES_PARENT_TABLE = 'public.audit_log_entries';

/**
 * pg_partman's maintenance of the entries table: makes the partitions ahead of the
 * newest entry (PARTITIONS_AHEAD), and detaches old ones only if an operator set a
 * retention (README: archiving old entries). The service runs it every
 * PARTITION_MAINTENANCE_INTERVAL_MS; the migration ran it once.
 */
export async function runPartitionMaintenance(db: Queryable): Promise<void> {
  await db.query('SELECT partman.run_maintenance($1, p_jobmon := false)', [ENTRIES_PARENT_TABLE]);
}

/**
 * The first index the attached partitions hold (0 while none was detached), or
 * undefined when no partition is attached.
 */
export async function firstAttachedIndex(db: Queryable): Promise<number | undefined> {
  const { rows } = await db.query<{ start: string | null }>(
    `SELECT (partman.show_partition_info(
               partition_schemaname || '.' || partition_tablename, p_parent_table := $1)
            ).child_start_id AS start
       FROM partman.show_partitions($1, 'ASC') LIMIT 1`,
    [ENTRIES_PARENT_TABLE],
  );
  const start = rows[0]?.start;
  return start == null ? undefined : Number(start);
}
