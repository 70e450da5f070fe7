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
 * entries from `cut` on deleted, the tree's tiles cut to the tree of `cut` leaves, the head
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
  await db.query('DELETE FROM audit_log_entries WHERE entry_index >= $1', [cut]);
  await cutAuditLogTiles(db, cut);
  const { rows: tiles } = await db.query<{ hashes: Buffer }>(
    'SELECT hashes FROM audit_log_tiles WHERE level = 0 ORDER BY tile_index',
  );
  const hashes = Buffer.concat(tiles.map((tile) => tile.hashes));
  const leaves = Array.from({ length: hashes.length / 32 }, (_, i) =>
    hashes.subarray(32 * i, 32 * (i + 1)),
  );
  if (dropCheckpoints) {
    await db.query('DELETE FROM audit_checkpoints WHERE tree_size > $1', [cut]);
  }
  await db.query('UPDATE audit_log_head SET tree_size = $1, root_hash = $2', [
    cut,
    Buffer.from(rootOf(leaves)),
  ]);
}

/**
 * Cuts the tree's tiles (audit_log_tiles) back to the tree of `size` leaves: tile level
 * l holds floor(size / 256^l) hashes, so tiles past them go and the last is shortened.
 * The caller holds the head locked.
 */
export async function cutAuditLogTiles(db: pg.ClientBase, size: number): Promise<void> {
  const kept = '($1::bigint / (1::bigint << (8 * level)::int))';
  await db.query(`DELETE FROM audit_log_tiles WHERE tile_index * 256 >= ${kept}`, [size]);
  await db.query(
    `UPDATE audit_log_tiles
        SET width = ${kept} - tile_index * 256,
            hashes = substring(hashes FROM 1 FOR 32 * (${kept} - tile_index * 256)::int)
      WHERE (tile_index + 1) * 256 > ${kept}`,
    [size],
  );
}
