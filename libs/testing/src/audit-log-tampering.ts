// Tampering with the audit log's tables in PostgreSQL as someone with the database could,
// for the tests that show it caught (the command line's audit verify, the e2e suite).
import type pg from 'pg';
import { rootOf } from '@vaxguard/tlog';

/** Every column of an entry row but its index. */
const ENTRY_CONTENT_COLUMNS = [
  'event_id',
  'event_type',
  'producer',
  'actor_kind',
  'actor_id',
  'subject_kind',
  'subject_ref',
  'occurred_at',
  'ingested_at',
  'entry',
] as const;

/**
 * Swaps two entries' contents, every column but the index, in one transaction (swapping
 * again puts them back). Event ids are unique: both rows get a throwaway id before each
 * takes the other's.
 */
export async function swapAuditLogEntries(db: pg.ClientBase, a: number, b: number): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query(
      `CREATE TEMP TABLE swapped ON COMMIT DROP AS
         SELECT * FROM audit_log_entries WHERE entry_index IN ($1, $2)`,
      [a, b],
    );
    await db.query(
      'UPDATE audit_log_entries SET event_id = gen_random_uuid() WHERE entry_index IN ($1, $2)',
      [a, b],
    );
    await db.query(
      `UPDATE audit_log_entries t SET ${ENTRY_CONTENT_COLUMNS.map((c) => `${c} = s.${c}`).join(', ')}
         FROM swapped s
        WHERE t.entry_index IN ($1, $2) AND s.entry_index = $1::bigint + $2::bigint - t.entry_index`,
      [a, b],
    );
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

/**
 * Cuts the log back to its first `cut` entries, as restoring an older backup would: the
 * entries from `cut` on deleted with their tree nodes (leaves and interior), the head
 * recomputed over the leaves left, and with `dropCheckpoints` the signed checkpoints
 * that cover more. Run inside the caller's transaction: it locks the head first, so no
 * append comes between, and the caller decides when to commit.
 */
export async function cutAuditLog(
  db: pg.ClientBase,
  cut: number,
  { dropCheckpoints }: { dropCheckpoints: boolean },
): Promise<void> {
  await db.query('SELECT tree_size FROM audit_log_head FOR UPDATE');
  const { rows: leaves } = await db.query<{ hash: Buffer }>(
    'SELECT hash FROM audit_log_nodes WHERE level = 0 AND node_index < $1 ORDER BY node_index',
    [cut],
  );
  await db.query('DELETE FROM audit_log_entries WHERE entry_index >= $1', [cut]);
  await db.query(
    'DELETE FROM audit_log_nodes WHERE (node_index + 1) * (1::bigint << level::int) > $1',
    [cut],
  );
  if (dropCheckpoints) {
    await db.query('DELETE FROM audit_checkpoints WHERE tree_size > $1', [cut]);
  }
  await db.query('UPDATE audit_log_head SET tree_size = $1, root_hash = $2', [
    cut,
    Buffer.from(rootOf(leaves.map((leaf) => leaf.hash))),
  ]);
}
