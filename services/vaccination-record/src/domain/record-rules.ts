import { randomBytes } from 'node:crypto';
import {
  failedPrecondition,
  invalidArgument,
  permissionDenied,
  resourceExhausted,
} from '@vaxguard/errors';

/**
 * The access rules of the vaccination record, each a named constant or a small pure
 * function: who may act on a record, with which grant, how often. The schedule rules are
 * in schedule-rules.ts. A refusal carries a stable `reason`, and never repeats a token,
 * a name or a number of the person.
 */

// ---- Staff quota (OWASP API4/API6; the 2023 leak harvested records in bulk) -----------

/**
 * Distinct beneficiaries one staff member may touch (record a dose for, look up for
 * vaccination) in one hour. A vaccinator sees a person every few minutes; 60 an hour is
 * a busy session, far from the thousands a harvesting script reads. Configurable.
 */
export const DEFAULT_STAFF_BENEFICIARIES_PER_HOUR = 60;
/** The quota counts in fixed clock hours: the count resets when the hour turns. */
export const STAFF_QUOTA_WINDOW_MS = 3_600_000;

/** The start of the quota window `now` falls in. */
export function quotaWindowStart(now: Date): Date {
  return new Date(Math.floor(now.getTime() / STAFF_QUOTA_WINDOW_MS) * STAFF_QUOTA_WINDOW_MS);
}

/**
 * Whether one more beneficiary fits: a beneficiary already counted in this window is
 * always admitted (a second dose the same hour, a retry); a new one only below the limit.
 */
export function checkStaffQuota(
  usage: { readonly alreadyCounted: boolean; readonly distinct: number },
  limit: number,
  now: Date,
): void {
  if (usage.alreadyCounted || usage.distinct < limit) return;
  const retryAfterMs = quotaWindowStart(now).getTime() + STAFF_QUOTA_WINDOW_MS - now.getTime();
  throw resourceExhausted(
    `a staff member may reach at most ${limit} distinct beneficiaries an hour`,
    retryAfterMs,
    { reason: 'STAFF_QUOTA' },
  );
}

// ---- What a dose needs from identity -------------------------------------------------

/**
 * How long the facts identity gave of a beneficiary (that it exists, its year of birth)
 * are used without asking again. RecordDose reads them from this service's own copy,
 * filled when a vaccinator looks the beneficiary up (FindForVaccination) or, for one not
 * seen yet, by asking identity once; past this age identity is asked again, so a copy
 * never outlives a change at identity by more than an hour. A consent grant lives five
 * minutes: a lookup and the doses it leads to fall well inside.
 */
export const BENEFICIARY_FACTS_MAX_AGE_MS = 3_600_000;

/** Whether facts learned at `learnedAt` may still decide a dose at `now`. */
export function beneficiaryFactsFresh(learnedAt: Date, now: Date): boolean {
  const age = now.getTime() - learnedAt.getTime();
  return age >= 0 && age < BENEFICIARY_FACTS_MAX_AGE_MS;
}

// ---- Retention (issue 23: nothing grows without bound; migration 0006_retention) -------

/**
 * The staff quota's rows of a window are read only while it is the current one: once the
 * hour turned they are deleted (before this, a row per staff read stayed forever).
 */
export function staffQuotaKeptFrom(now: Date): Date {
  return quotaWindowStart(now);
}

/**
 * Facts learned BENEFICIARY_FACTS_MAX_AGE_MS ago are never used again (identity is
 * asked afresh): they are deleted, so the copy holds the beneficiaries seen in the last
 * hour, not every one ever seen.
 */
export function beneficiaryFactsKeptFrom(now: Date): Date {
  return new Date(now.getTime() - BENEFICIARY_FACTS_MAX_AGE_MS);
}

/** How often the retention rules run, and the rows one statement deletes at most. */
export const RETENTION_PRUNE_INTERVAL_MS = 10 * 60_000;
export const RETENTION_PRUNE_BATCH_SIZE = 1_000;

// ---- Certificates -------------------------------------------------------------------

/**
 * What a certificate and its card call a centre whose name this service has not heard
 * yet (identity's centre.created still on its way): a person reads a certificate, and an
 * internal id (`ctr-…`) tells them nothing, so it is never printed in a name's place.
 */
export const UNNAMED_CENTRE = 'Vaccination centre';

/** The name a certificate prints for a centre: its own, or UNNAMED_CENTRE. */
export function centreDisplayName(name: string | undefined): string {
  const trimmed = name?.trim();
  return trimmed ? trimmed : UNNAMED_CENTRE;
}

// ---- Revocation causes and holds ------------------------------------------------------

/**
 * Why a platform admin revokes a certificate. A leaked card (a photographed QR) is
 * replaced: the person is entitled to a card, just not that one. A fraudulent or mistaken
 * record must not be re-signed the moment the citizen asks again, so the beneficiary's
 * certificate is held.
 */
export type RevocationCause = 'LEAKED' | 'FRAUDULENT' | 'MISTAKEN_RECORD';
/** The causes that hold the beneficiary's certificate. */
export type HoldCause = Exclude<RevocationCause, 'LEAKED'>;

export const REVOCATION_CAUSES: readonly RevocationCause[] = [
  'LEAKED',
  'FRAUDULENT',
  'MISTAKEN_RECORD',
];

/** Whether a revocation for this cause holds the beneficiary's certificate. */
export function holdsCertificate(cause: RevocationCause): cause is HoldCause {
  return cause !== 'LEAKED';
}

/**
 * Which holds a correction of one of the beneficiary's doses lifts. A mistaken record is
 * what CorrectDose exists to fix. A fraudulent one is not: the centre admin who corrects
 * is of the centre that recorded the dose, the very centre a fraud would come from, and
 * changing a batch number would otherwise buy a fresh card; only a platform admin lifts
 * it (LiftCertificateHold).
 */
export const HOLD_LIFTED_BY_CORRECTION: Readonly<Record<HoldCause, boolean>> = {
  FRAUDULENT: false,
  MISTAKEN_RECORD: true,
};

/** A cause the request gave, or undefined when it gave none (or one this service does not know). */
export function parseRevocationCause(cause: RevocationCause | undefined): RevocationCause {
  if (cause === undefined) {
    throw invalidArgument(`cause must be one of ${REVOCATION_CAUSES.join(', ')}`, {
      reason: 'INVALID_REVOCATION_CAUSE',
    });
  }
  return cause;
}

/**
 * A held beneficiary gets no card. The refusal names the rule, not the cause: a partner
 * reading the certificate with consent learns that it is held, not that someone judged
 * the record fraudulent.
 */
export function checkNotHeld(held: boolean): void {
  if (held) {
    throw failedPrecondition(
      'this beneficiary’s certificate is held after a revocation: no new card until a dose is corrected or a platform admin lifts the hold',
      { reason: 'CERTIFICATE_HELD' },
    );
  }
}

// ---- Requests -----------------------------------------------------------------------

/** A caller's request id: 8-64 characters, enough for a UUID or a ULID, nothing free-form. */
export const CLIENT_REQUEST_ID_FORMAT = /^[A-Za-z0-9._-]{8,64}$/;

export function parseClientRequestId(value: string): string {
  if (!CLIENT_REQUEST_ID_FORMAT.test(value)) {
    throw invalidArgument('client_request_id must be 8-64 characters of A-Z a-z 0-9 . _ -', {
      reason: 'INVALID_CLIENT_REQUEST_ID',
    });
  }
  return value;
}

/** Why a dose was corrected or a certificate revoked: said in words, kept with the change. */
export const REASON_LENGTH = { min: 4, max: 200 } as const;

export function parseReason(value: string): string {
  const reason = value.trim();
  if (reason.length < REASON_LENGTH.min || reason.length > REASON_LENGTH.max) {
    throw invalidArgument(
      `reason must be ${REASON_LENGTH.min}-${REASON_LENGTH.max} characters saying why`,
      { reason: 'INVALID_REASON' },
    );
  }
  return reason;
}

// ---- Identifiers --------------------------------------------------------------------

/** Certificate ids: 128 random bits (MISSION: at least 96; DIVOC's were 9 digits). */
export const CERTIFICATE_ID_RANDOM_BYTES = 16;
export const CERTIFICATE_ID_FORMAT = /^crt_[A-Za-z0-9_-]{22}$/;
/** Dose ids: 128 random bits as well; a dose id alone opens nothing. */
export const DOSE_ID_FORMAT = /^dose_[A-Za-z0-9_-]{22}$/;

export function newCertificateId(random: (size: number) => Buffer = randomBytes): string {
  return `crt_${random(CERTIFICATE_ID_RANDOM_BYTES).toString('base64url')}`;
}

export function newDoseId(random: (size: number) => Buffer = randomBytes): string {
  return `dose_${random(CERTIFICATE_ID_RANDOM_BYTES).toString('base64url')}`;
}

export function parseCertificateId(value: string): string {
  if (!CERTIFICATE_ID_FORMAT.test(value)) {
    throw invalidArgument('certificate_id must be crt_ followed by 22 base64url characters', {
      reason: 'INVALID_CERTIFICATE_ID',
    });
  }
  return value;
}

export function parseDoseId(value: string): string {
  if (!DOSE_ID_FORMAT.test(value)) {
    throw invalidArgument('dose_id must be dose_ followed by 22 base64url characters', {
      reason: 'INVALID_DOSE_ID',
    });
  }
  return value;
}

// ---- Consent grants -----------------------------------------------------------------

/** What a verified consent grant says, and the grant itself, to relay to identity. */
export interface ConsentGrant {
  /** The grant's token id: named in events, never the token. */
  readonly grantId: string;
  /** The client application the grant was issued to. */
  readonly clientId: string;
  readonly granteeKind: 'STAFF' | 'PARTNER_CLIENT';
  readonly granteeId: string;
  readonly beneficiaryRefs: readonly string[];
  readonly token: string;
}

/**
 * A staff member may use a consent grant only if it names them, was issued to the
 * application they call through (a grant read off another device is refused), and, when
 * a beneficiary is named, opens that beneficiary. Each mismatch has its own reason.
 */
export function checkStaffGrant(
  grant: ConsentGrant,
  staff: { readonly staffId: string; readonly clientId: string },
  beneficiaryRef?: string,
): void {
  if (grant.granteeKind !== 'STAFF' || grant.granteeId !== staff.staffId) {
    throw permissionDenied('the consent grant names another grantee', {
      reason: 'GRANTEE_MISMATCH',
    });
  }
  if (grant.clientId !== staff.clientId) {
    throw permissionDenied('the consent grant was issued to another client application', {
      reason: 'GRANT_CLIENT_MISMATCH',
    });
  }
  if (beneficiaryRef !== undefined) checkGrantCovers(grant, beneficiaryRef);
}

export function checkGrantCovers(grant: ConsentGrant, beneficiaryRef: string): void {
  if (!grant.beneficiaryRefs.includes(beneficiaryRef)) {
    throw permissionDenied('the consent grant does not cover this beneficiary', {
      reason: 'NO_CONSENT',
    });
  }
}

/**
 * The identity scope that shows a partner a beneficiary's name, gender and year of
 * birth: a certificate shows name and year of birth, so a partner needs it to fetch one.
 */
export const PARTNER_CERTIFICATE_SCOPE = 'beneficiary:demographics';

/** Staff roles, as sessions carry them. */
export type StaffRole = 'VACCINATOR' | 'CENTRE_ADMIN' | 'AUDITOR' | 'PLATFORM_ADMIN';

/** Who may do what: one role per action. */
export const ROLE_FOR = {
  recordDose: ['VACCINATOR'],
  findForVaccination: ['VACCINATOR', 'CENTRE_ADMIN'],
  correctDose: ['CENTRE_ADMIN'],
  revokeCertificate: ['PLATFORM_ADMIN'],
  liftCertificateHold: ['PLATFORM_ADMIN'],
} as const satisfies Record<string, readonly StaffRole[]>;

export function checkRole(role: StaffRole, allowed: readonly StaffRole[], action: string): void {
  if (!allowed.includes(role)) {
    throw permissionDenied(`only ${allowed.join(' or ').toLowerCase()} staff may ${action}`, {
      reason: 'ROLE_NOT_ALLOWED',
    });
  }
}
