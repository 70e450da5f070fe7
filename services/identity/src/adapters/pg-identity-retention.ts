import { applyRetentionRules, type BatchedDelete, type Queryable } from '@vaxguard/db';
import {
  clientSignInFailuresKeptFrom,
  consentSmsCountsKeptFrom,
  RETENTION_PRUNE_BATCH_SIZE,
} from '../domain/identity-rules';

/**
 * The rows past their retention as of `now`, per table (migration
 * identity/0006_retention states every table's rule); each served by an index.
 */
export function identityRetentionRules(now: Date): readonly BatchedDelete[] {
  return [
    {
      table: 'client_sign_in_failures',
      where: 'window_start < $1',
      params: [clientSignInFailuresKeptFrom(now)],
    },
    {
      table: 'partner_consent_sms',
      where: 'day_start < $1',
      params: [consentSmsCountsKeptFrom(now)],
    },
  ];
}

/**
 * Deletes what no rule reads any more, RETENTION_PRUNE_BATCH_SIZE rows a statement;
 * `stopped` ends it between two statements. Returns how many rows went.
 */
export async function pruneIdentity(
  db: Queryable,
  now: Date,
  stopped?: () => boolean,
): Promise<number> {
  return applyRetentionRules(db, identityRetentionRules(now), {
    batchSize: RETENTION_PRUNE_BATCH_SIZE,
    ...(stopped ? { stopped } : {}),
  });
}
