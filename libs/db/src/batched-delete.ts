import type { Queryable } from './pool';

/** Rows one retention statement deletes at most, unless told otherwise. */
export const DEFAULT_DELETE_BATCH_SIZE = 1_000;

export interface BatchedDelete {
  /** The table, as written in SQL (a trusted constant, never input). */
  readonly table: string;
  /**
   * What a row past its retention satisfies, with `$1`... for `params`; an index must
   * serve it, or every batch reads the table from its start.
   */
  readonly where: string;
  readonly params?: readonly unknown[];
  /** Rows per statement (default DEFAULT_DELETE_BATCH_SIZE). */
  readonly batchSize?: number;
  /** Asked between statements: true stops the deletion (a service shutting down). */
  readonly stopped?: () => boolean;
}

/**
 * Deletes every row matching `where`, at most `batchSize` per statement, until a
 * statement deletes fewer: no statement holds many row locks or runs long, and the
 * periodic task that calls this can stop between two. A row is deleted by its ctid and
 * only if it still matches (a row changed meanwhile, made live again, is re-checked on
 * its new version and kept). Returns how many rows went.
 */
export async function deleteInBatches(db: Queryable, batch: BatchedDelete): Promise<number> {
  const size = batch.batchSize ?? DEFAULT_DELETE_BATCH_SIZE;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(`deleteInBatches ${batch.table}: batchSize must be a positive integer`);
  }
  const params = batch.params ?? [];
  const sql = `DELETE FROM ${batch.table}
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${batch.table} WHERE ${batch.where} LIMIT ${size}))
      AND ${batch.where}`;
  let deleted = 0;
  while (!batch.stopped?.()) {
    const { rowCount } = await db.query(sql, [...params]);
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < size) break;
  }
  return deleted;
}

/**
 * Applies a service's retention rules one after another (deleteInBatches each), all with
 * one batch size; `stopped` ends the pass between two statements. Returns how many rows
 * went.
 */
export async function applyRetentionRules(
  db: Queryable,
  rules: readonly BatchedDelete[],
  options: { readonly batchSize?: number; readonly stopped?: () => boolean } = {},
): Promise<number> {
  let deleted = 0;
  for (const rule of rules) {
    if (options.stopped?.()) break;
    deleted += await deleteInBatches(db, { ...rule, ...options });
  }
  return deleted;
}
