import { applyRetentionRules, type BatchedDelete, type Queryable } from '@vaxguard/db';
import {
  bucketStart,
  countWindowStart,
  distinctWindowStart,
  type CountWindow,
  type DistinctWindow,
  type WindowStore,
} from '../domain/anomaly-model';

// The class of the two-key advisory locks taken per window key (pg's two-int4 lock
// space does not overlap the one-bigint space the migrator locks in).
const WINDOW_LOCK_CLASS = 0x616e_6f6d; // "anom"

/** Rows deleted per statement when pruning, so no statement holds many row locks. */
const PRUNE_BATCH = 5_000;

/**
 * Concurrency: every update is an upsert that adds to a row in place, so instances
 * applying observations at once never lose a count or a member. The count is read by a
 * second statement, after the update: with `db` the pool, each statement commits on its
 * own and whichever instance counts last sees every update made before it. With `db` a
 * client inside a READ COMMITTED transaction (so that a redelivered event, rolled back
 * with the rest, is not counted twice), the update first takes a transaction-scoped
 * advisory lock on its key: instances take turns per key and each counts what the
 * previous one committed. Keys are locked in the rules' fixed order, but a transaction
 * applying several observations can still deadlock with another; retry on 40P01.
 */
export class PgAnomalyWindows implements WindowStore {
  constructor(private readonly db: Queryable) {}

  async addDistinct<N extends string>(
    key: string,
    member: string,
    at: Date,
    windows: readonly DistinctWindow<N>[],
  ): Promise<Record<N, number>> {
    await this.db.query(
      `INSERT INTO anomaly_members AS m (window_key, member, last_seen)
       SELECT $1, $2, $3 FROM (SELECT pg_advisory_xact_lock($4, hashtext($1))) AS turn
       ON CONFLICT (window_key, member)
       DO UPDATE SET last_seen = greatest(m.last_seen, excluded.last_seen)`,
      [key, member, at, WINDOW_LOCK_CLASS],
    );
    const { rows } = await this.db.query<{ name: N; count: string }>(
      `SELECT w.name, count(m.member) AS count
       FROM unnest($2::text[], $3::timestamptz[]) AS w(name, after)
       LEFT JOIN anomaly_members m ON m.window_key = $1 AND m.last_seen > w.after
       GROUP BY w.name`,
      [
        key,
        windows.map((window) => window.name),
        windows.map((window) => distinctWindowStart(at, window)),
      ],
    );
    return countsByName(rows);
  }

  async increment<N extends string>(
    key: string,
    at: Date,
    windows: readonly CountWindow<N>[],
  ): Promise<Record<N, number>> {
    const bucketSizes = [...new Set(windows.map((window) => window.bucketMs))].sort(
      (a, b) => a - b,
    );
    await this.db.query(
      `INSERT INTO anomaly_counts AS c (window_key, bucket_ms, bucket_start, count)
       SELECT $1, b.ms, b.start, 1
       FROM (SELECT pg_advisory_xact_lock($4, hashtext($1))) AS turn,
            unnest($2::integer[], $3::timestamptz[]) AS b(ms, start)
       ORDER BY b.ms
       ON CONFLICT (window_key, bucket_ms, bucket_start) DO UPDATE SET count = c.count + 1`,
      [key, bucketSizes, bucketSizes.map((ms) => bucketStart(at, ms)), WINDOW_LOCK_CLASS],
    );
    const { rows } = await this.db.query<{ name: N; count: string }>(
      `SELECT w.name, coalesce(sum(c.count), 0) AS count
       FROM unnest($2::text[], $3::integer[], $4::timestamptz[]) AS w(name, ms, since)
       LEFT JOIN anomaly_counts c
         ON c.window_key = $1 AND c.bucket_ms = w.ms AND c.bucket_start >= w.since
       GROUP BY w.name`,
      [
        key,
        windows.map((window) => window.name),
        windows.map((window) => window.bucketMs),
        windows.map((window) => countWindowStart(at, window)),
      ],
    );
    return countsByName(rows);
  }

  async claimAlert(key: string, at: Date, holdMs: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO anomaly_alert_claims AS a (claim_key, claimed_at, held_until)
       VALUES ($1, $2, $3)
       ON CONFLICT (claim_key) DO UPDATE
         SET claimed_at = excluded.claimed_at, held_until = excluded.held_until
         WHERE a.held_until <= excluded.claimed_at`,
      [key, at, new Date(at.getTime() + holdMs)],
    );
    return rowCount === 1;
  }

  /**
   * Deletes what no window reads any more: members last seen and buckets started more
   * than `retentionMs` before `now` (`ANOMALY_STATE_RETENTION_MS`, the longest window),
   * and lapsed claims. Returns how many rows went; run it periodically.
   */
  async prune(now: Date, retentionMs: number, stopped?: () => boolean): Promise<number> {
    return applyRetentionRules(this.db, anomalyRetentionRules(now, retentionMs), {
      batchSize: PRUNE_BATCH,
      ...(stopped ? { stopped } : {}),
    });
  }
}

/**
 * The anomaly windows' rows no window reads any more as of `now` (migration
 * audit/0008_retention states each table's rule), each served by an index.
 */
export function anomalyRetentionRules(now: Date, retentionMs: number): readonly BatchedDelete[] {
  const before = new Date(now.getTime() - retentionMs);
  return [
    { table: 'anomaly_members', where: 'last_seen < $1', params: [before] },
    { table: 'anomaly_counts', where: 'bucket_start < $1', params: [before] },
    { table: 'anomaly_alert_claims', where: 'held_until < $1', params: [now] },
  ];
}

function countsByName<N extends string>(
  rows: readonly { name: N; count: string }[],
): Record<N, number> {
  const counts = {} as Record<N, number>;
  for (const row of rows) counts[row.name] = Number(row.count);
  return counts;
}
