import type { Queryable } from '@vaxguard/db';
import type { Logger } from '@vaxguard/logging';
import type { KeyProvider } from '../domain/model';
import { EnvelopeVault, sealedKeyId, VaultError } from './vault';

/** Rows read per batch: each batch is one read and one short UPDATE per column. */
export const ROTATION_BATCH_SIZE = 500;

/**
 * How often one batch retries the rows whose sealed value changed between its read and
 * its write (another rotation run got there first). More than this means something
 * keeps rewriting the column, and the job stops rather than spin.
 */
const MAX_WRITE_ROUNDS = 5;

/** The sealed columns of `beneficiaries`, a closed list: the only names put into SQL. */
export const SEALED_COLUMNS = ['mobile_sealed', 'photo_id_sealed'] as const;
export type SealedColumn = (typeof SEALED_COLUMNS)[number];

/** What became of the records of one column. `examined` is the sum of the other four. */
export interface ColumnReport {
  examined: number;
  /** Now wrapped under the current KEK. */
  rewrapped: number;
  alreadyCurrent: number;
  /** Wrapped under a KEK the key provider does not hold: left as they are. */
  unknownKey: number;
  /** Do not decode, or their data key does not unwrap under the KEK they name: left as they are. */
  damaged: number;
}

export interface RotationReport {
  readonly currentKeyId: string;
  readonly columns: Record<SealedColumn, ColumnReport>;
  /** Records per KEK id that no configured key opens (ids only: they are not secret). */
  readonly unknownKeyIds: Record<string, number>;
}

/** A run succeeded when every record it examined is under the current KEK. */
export function rotationComplete(report: RotationReport): boolean {
  return SEALED_COLUMNS.every(
    (column) => report.columns[column].unknownKey === 0 && report.columns[column].damaged === 0,
  );
}

export interface KeyRotationOptions {
  /** The identity database; one connection at a time is enough. */
  readonly pool: Queryable;
  /** Current KEK first; the previous ones open the records still wrapped under them. */
  readonly keys: KeyProvider;
  readonly logger: Logger;
  readonly batchSize?: number;
}

/** One sealed value, judged: a new value to write, or why it stays. */
export type Verdict =
  | { readonly outcome: 'rewrap'; readonly rewrapped: Buffer }
  | { readonly outcome: 'alreadyCurrent' }
  | { readonly outcome: 'unknownKey'; readonly keyId: string }
  | { readonly outcome: 'damaged' };

/**
 * Decides what to do with one sealed value: re-wrap its data key under the current KEK
 * (the ciphertext is untouched), or leave it, saying why. Never throws on a bad record.
 */
export async function judgeSealed(
  vault: EnvelopeVault,
  keys: KeyProvider,
  currentKeyId: string,
  sealed: Buffer,
): Promise<Verdict> {
  try {
    const keyId = sealedKeyId(sealed);
    if (keyId === currentKeyId) return { outcome: 'alreadyCurrent' };
    if (!(await keys.byId(keyId))) return { outcome: 'unknownKey', keyId };
    return { outcome: 'rewrap', rewrapped: await vault.rewrap(sealed) };
  } catch (error) {
    if (error instanceof VaultError) return { outcome: 'damaged' };
    throw error;
  }
}

const emptyColumnReport = (): ColumnReport => ({
  examined: 0,
  rewrapped: 0,
  alreadyCurrent: 0,
  unknownKey: 0,
  damaged: 0,
});

interface SealedValue {
  readonly ref: string;
  readonly sealed: Buffer;
}

/**
 * Re-wraps every sealed value in `beneficiaries` whose data key is wrapped under a KEK
 * other than the current one, while the service keeps running.
 *
 * Rows are walked in batches by `beneficiary_ref` (keyset pagination). A batch is read
 * without locks; each column's changes are one UPDATE (its own short transaction) that
 * writes a value only where the column still holds the bytes that were read, so it
 * never overwrites a concurrent write and never holds locks while it computes. A row
 * that changed in between is read again and judged again: a second run, or two running
 * at once, re-wrap each record once and count the rest as already current.
 *
 * A row registered behind the cursor during the run is not visited: the services must
 * already seal under the new KEK (they are restarted with it first), so it needs none.
 */
export async function rotateKeyEncryptionKeys(
  options: KeyRotationOptions,
): Promise<RotationReport> {
  const { pool, keys, logger } = options;
  const batchSize = options.batchSize ?? ROTATION_BATCH_SIZE;
  const vault = new EnvelopeVault(keys);
  const currentKeyId = (await keys.current()).id;
  const report: RotationReport = {
    currentKeyId,
    columns: { mobile_sealed: emptyColumnReport(), photo_id_sealed: emptyColumnReport() },
    unknownKeyIds: {},
  };

  /** Re-wraps one column of a batch; values that changed before the write are judged again. */
  async function rotateColumn(values: readonly SealedValue[], column: SealedColumn) {
    const counts = report.columns[column];
    let pending = values;
    for (let round = 1; pending.length > 0; round++) {
      if (round > MAX_WRITE_ROUNDS) {
        throw new Error(
          `${column} of ${pending.length} beneficiaries kept changing during key rotation; run it again`,
        );
      }
      const writes: { ref: string; sealed: Buffer; rewrapped: Buffer }[] = [];
      for (const { ref, sealed } of pending) {
        const verdict = await judgeSealed(vault, keys, currentKeyId, sealed);
        if (verdict.outcome === 'rewrap') {
          writes.push({ ref, sealed, rewrapped: verdict.rewrapped });
          continue;
        }
        counts.examined++;
        counts[verdict.outcome]++;
        if (verdict.outcome === 'unknownKey') {
          report.unknownKeyIds[verdict.keyId] = (report.unknownKeyIds[verdict.keyId] ?? 0) + 1;
        }
      }
      if (writes.length === 0) return;
      const { rows } = await pool.query<{ beneficiary_ref: string }>(
        `UPDATE beneficiaries AS b SET ${column} = w.rewrapped
         FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS w(beneficiary_ref, sealed, rewrapped)
         WHERE b.beneficiary_ref = w.beneficiary_ref AND b.${column} = w.sealed
         RETURNING b.beneficiary_ref`,
        [writes.map((w) => w.ref), writes.map((w) => w.sealed), writes.map((w) => w.rewrapped)],
      );
      const written = new Set(rows.map((row) => row.beneficiary_ref));
      counts.examined += written.size;
      counts.rewrapped += written.size;
      const changed = writes.filter((w) => !written.has(w.ref)).map((w) => w.ref);
      if (changed.length === 0) return;
      // Changed since it was read: judge what is there now (a deleted row drops out).
      const reread = await pool.query<{ beneficiary_ref: string; sealed: Buffer }>(
        `SELECT beneficiary_ref, ${column} AS sealed FROM beneficiaries WHERE beneficiary_ref = ANY($1)`,
        [changed],
      );
      pending = reread.rows.map((row) => ({ ref: row.beneficiary_ref, sealed: row.sealed }));
    }
  }

  let after = '';
  for (let batch = 1; ; batch++) {
    const { rows } = await pool.query<{
      beneficiary_ref: string;
      mobile_sealed: Buffer;
      photo_id_sealed: Buffer;
    }>(
      `SELECT beneficiary_ref, mobile_sealed, photo_id_sealed FROM beneficiaries
       WHERE beneficiary_ref > $1 ORDER BY beneficiary_ref LIMIT $2`,
      [after, batchSize],
    );
    const last = rows.at(-1);
    if (!last) break;
    after = last.beneficiary_ref;
    for (const column of SEALED_COLUMNS) {
      await rotateColumn(
        rows.map((row) => ({ ref: row.beneficiary_ref, sealed: row[column] })),
        column,
      );
    }
    logger.debug('key rotation batch done', { batch, rows: rows.length, ...report.columns });
  }
  return report;
}
