import type { Queryable } from '@vaxguard/db';
import { EVENTS, isEvent, type DecodedEvent } from '@vaxguard/event-catalogue';
import type { AccessHistoryStore, RecordedAccess } from '../domain/access-history';
import { recordedAccessOf } from './access-history';
import { entryOf, type EntryRow } from './pg-log-store';

/** The events a citizen's access history is made of: reads and refused reads. */
export const ACCESS_EVENT_TYPES: readonly string[] = [
  EVENTS.accessGranted.name,
  EVENTS.accessDenied.name,
  EVENTS.recordAccessed.name,
  EVENTS.recordAccessDenied.name,
];

/**
 * The beneficiary registered on a citizen's mobile, when the event says so: a citizen
 * registers their beneficiaries themselves (a citizen token, so the actor is the
 * mobile's blind index), and the payload names the same mobile.
 */
export function citizenBeneficiaryOf(
  event: DecodedEvent,
): { mobileIndex: string; beneficiaryRef: string } | undefined {
  if (!isEvent(event, EVENTS.beneficiaryRegistered)) return undefined;
  const { mobileIndex } = event.payload;
  const beneficiaryRef = event.envelope.subject?.ref ?? '';
  if (!mobileIndex || !beneficiaryRef || event.envelope.actor?.principalId !== mobileIndex) {
    return undefined;
  }
  return { mobileIndex, beneficiaryRef };
}

/**
 * Keeps which beneficiaries are registered on which mobile, in the log's batch
 * transaction (beside the directory, called from recordDirectory). Idempotent: a
 * redelivered registration keeps the first.
 */
export async function recordCitizenBeneficiaries(
  tx: Queryable,
  events: readonly DecodedEvent[],
): Promise<void> {
  for (const event of events) {
    const registration = citizenBeneficiaryOf(event);
    if (!registration) continue;
    await tx.query(
      `INSERT INTO audit_citizen_beneficiaries (mobile_index, beneficiary_ref, event_id)
       VALUES ($1, $2, $3) ON CONFLICT (mobile_index, beneficiary_ref) DO NOTHING`,
      [registration.mobileIndex, registration.beneficiaryRef, event.envelope.eventId],
    );
  }
}

/**
 * A citizen's access history in PostgreSQL, each statement bounded: the beneficiaries
 * one primary-key range of audit_citizen_beneficiaries, the accesses one backward walk
 * of the subject index per beneficiary that stops at `limit`, merged. Neither reads the
 * citizen's own actions, which only grow.
 */
export class PgAccessHistory implements AccessHistoryStore {
  constructor(private readonly db: Queryable) {}

  async beneficiariesOf(mobileIndex: string, limit: number): Promise<string[]> {
    const { rows } = await this.db.query<{ beneficiary_ref: string }>(
      `SELECT beneficiary_ref FROM audit_citizen_beneficiaries
       WHERE mobile_index = $1 ORDER BY beneficiary_ref LIMIT $2`,
      [mobileIndex, limit],
    );
    return rows.map((row) => row.beneficiary_ref);
  }

  async accessesOf(
    refs: readonly string[],
    before: number | undefined,
    limit: number,
  ): Promise<{ index: number; access: RecordedAccess }[]> {
    if (refs.length === 0) return [];
    const { rows } = await this.db.query<EntryRow>(accessesStatement(refs.length), [
      ...refs,
      ACCESS_EVENT_TYPES,
      before ?? null,
      limit,
    ]);
    return rows.map(entryOf).map((entry) => ({
      index: entry.index,
      access: recordedAccessOf(entry),
    }));
  }
}

/**
 * The statement accessesOf runs for `refs` beneficiaries (exported for its plan's
 * test): one branch per beneficiary, each a backward walk of the subject index from
 * `before` that stops at `limit`, merged newest first and cut at `limit`, so the merge
 * pulls from each walk only what it needs. Each ref is its own parameter, so the plan
 * is made for that beneficiary's own statistics: through unnest and a lateral join
 * every ref gets the estimate of an average beneficiary (a handful of entries), for
 * which PostgreSQL reads them all and sorts, whoever is busy.
 */
export function accessesStatement(refs: number): string {
  const types = `$${refs + 1}::text[]`;
  const before = `coalesce($${refs + 2}::bigint, 9223372036854775807)`;
  const limit = `$${refs + 3}`;
  const walk = (ref: number) =>
    `SELECT * FROM audit_log_entries
       WHERE subject_ref = $${ref + 1} AND event_type = ANY (${types}) AND entry_index < ${before}
       ORDER BY entry_index DESC LIMIT ${limit}`;
  // One walk is the answer; several are merged (one ORDER BY each, in parentheses).
  if (refs === 1) return walk(0);
  const walks = Array.from({ length: refs }, (_, ref) => `(${walk(ref)})`);
  return `${walks.join('\n  UNION ALL ')}\n  ORDER BY entry_index DESC LIMIT ${limit}`;
}
