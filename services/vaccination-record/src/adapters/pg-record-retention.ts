import { applyRetentionRules, type BatchedDelete, type Queryable } from '@vaxguard/db';
import {
  beneficiaryFactsKeptFrom,
  RETENTION_PRUNE_BATCH_SIZE,
  staffQuotaKeptFrom,
} from '../domain/record-rules';

/**
 * The rows past their retention as of `now`, per table (migration
 * vaccination-record/0006_retention states every table's rule); each served by an index.
 */
export function recordRetentionRules(now: Date): readonly BatchedDelete[] {
  return [
    { table: 'staff_quota', where: 'window_start < $1', params: [staffQuotaKeptFrom(now)] },
    {
      table: 'beneficiary_facts',
      where: 'learned_at < $1',
      params: [beneficiaryFactsKeptFrom(now)],
    },
  ];
}

/**
 * Deletes what no rule reads any more, RETENTION_PRUNE_BATCH_SIZE rows a statement;
 * `stopped` ends it between two statements. Returns how many rows went.
 */
export async function pruneRecords(
  db: Queryable,
  now: Date,
  stopped?: () => boolean,
): Promise<number> {
  return applyRetentionRules(db, recordRetentionRules(now), {
    batchSize: RETENTION_PRUNE_BATCH_SIZE,
    ...(stopped ? { stopped } : {}),
  });
}
