import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { AUDIENCE, type Audience, type TokenPurpose } from '@vaxguard/tokens';

/**
 * The rules of the OTP gate, each a named constant or a small pure function, so that a
 * reader finds them in one place and each has its own unit test. References: NIST SP
 * 800-63B §5.1.3 (out-of-band authenticators) and §5.2.2 (rate limiting).
 */

/** Codes are 6 decimal digits. */
export const OTP_DIGITS = 6;
/** 10^6 codes: log2(10^6) ≈ 19.93 bits, which NIST calls "approximately 20 bits". */
export const OTP_CODE_SPACE = 10 ** OTP_DIGITS;
/** NIST SP 800-63B: "at least 6 decimal digits (approximately 20 bits of entropy)". */
export const NIST_MIN_OTP_DIGITS = 6;

/** A code is valid for 3 minutes after it was sent. */
export const OTP_EXPIRY_MS = 3 * 60_000;
/** NIST: an out-of-band secret is valid for at most 10 minutes; no transaction lives longer. */
export const TXN_MAX_LIFETIME_MS = 10 * 60_000;

/**
 * A consent grant opens the beneficiaries of one mobile: at most 4, CoWIN's limit per
 * mobile, as the identity service resolved them. It may open none: identity asks for a
 * code whether or not the mobile has beneficiaries, so that its answer, the SMS and the
 * quotas are the same either way and reveal nothing.
 */
export const MAX_CONSENT_BENEFICIARIES = 4;

/** Wrong codes allowed per transaction; the transaction is dead after the 3rd. */
export const MAX_CONFIRM_ATTEMPTS = 3;
/** A resend is allowed 30 seconds after the previous send. */
export const RESEND_COOLDOWN_MS = 30_000;
/** Codes sent per transaction: the first and 2 resends. */
export const MAX_SENDS_PER_TXN = 3;

/** Sends per mobile in sliding windows: 5 per 15 minutes and 20 per 24 hours. */
export const MOBILE_SEND_QUOTAS: readonly SendQuota[] = [
  { name: 'MOBILE_QUOTA_15M', windowMs: 15 * 60_000, limit: 5 },
  { name: 'MOBILE_QUOTA_24H', windowMs: 24 * 3_600_000, limit: 20 },
];
/** The window of the per-client quota; the limit comes from configuration. */
export const CLIENT_QUOTA_WINDOW_MS = 60_000;
/**
 * Codes a minute for a client configured at start-up (CLIENT_CREDENTIALS), unless
 * OTP_CLIENT_QUOTA_PER_MINUTE says otherwise; a registered partner has the quota identity
 * gave it instead. Every code is an SMS someone pays for, so a leaked or abused client
 * credential pumping codes to numbers nobody asked for (SMS pumping, OWASP API6) must be
 * cut off within tens of codes, not a thousand: the audit service's flood rule then
 * suspends a client that keeps asking. 30 a minute, one code every 2 seconds, is above
 * what a configured platform app asks (`npm start`'s whole demo sends a handful); a
 * portal serving the public is registered as a partner with its own, larger quota.
 */
export const DEFAULT_CLIENT_QUOTA_PER_MINUTE = 30;
/**
 * The per-client quota counts sends per second, not per millisecond: a send counts from
 * the start of its second, so it leaves the minute up to a second early (a client gets
 * at most its limit in any 59 s, and in any minute counted in whole seconds). In
 * exchange the check that one client's concurrent sends must take turns on adds up at
 * most 60 counters, however high the limit (partners may be allowed a million a
 * minute), so the turn stays a query long.
 */
export const CLIENT_QUOTA_BUCKET_MS = 1_000;

/**
 * The text of an OTP message: `{code}` stands for the code. Indian operators deliver a
 * commercial SMS only when its text matches the content template registered on the DLT
 * platform (TRAI's TCCCPR 2018), under that template's id, so an installation sets the
 * text it registered (OTP_SMPP_MESSAGE_TEXT); this is the default.
 */
export const DEFAULT_OTP_SMS_TEXT = `{code} is your VaxGuard verification code. It is valid for ${OTP_EXPIRY_MS / 60_000} minutes. Do not share it with anyone.`;
/** Where the code goes in an OTP message's text. */
export const OTP_SMS_CODE_PLACEHOLDER = '{code}';

/** An OTP message's text with its code in place. */
export function otpSmsText(template: string, code: string): string {
  return template.replaceAll(OTP_SMS_CODE_PLACEHOLDER, code);
}

/**
 * What is recorded of each code the SMS centre took (its message id, the transaction,
 * and the delivery receipt when it comes) is kept a day, as long as the transaction it
 * belongs to, then deleted: it holds no number and no code, and a failed delivery is
 * looked into the same day. A receipt later than that is not recorded.
 */
export const DELIVERY_RECORD_RETENTION_MS = 24 * 3_600_000;

/** NIST: at most 100 consecutive failed attempts per account (here: per mobile). */
export const MOBILE_LOCKOUT_FAILURES = 100;
/** How long a mobile stays locked once it reached the failure limit. */
export const MOBILE_LOCKOUT_MS = 3_600_000;

/** What a token issued for each purpose says and how long it lives. */
export const TOKEN_POLICY: Readonly<
  Record<
    TokenPurpose,
    { readonly audience: Audience; readonly ttlMs: number; readonly scopes: readonly string[] }
  >
> = {
  CITIZEN_LOGIN: {
    audience: AUDIENCE.citizen,
    ttlMs: 15 * 60_000,
    scopes: ['beneficiary:read', 'certificate:read'],
  },
  CONSENT: { audience: AUDIENCE.consent, ttlMs: 5 * 60_000, scopes: ['beneficiary:access'] },
  // The staff session: password and this OTP both passed. As short as every token;
  // suspension also reaches live sessions at once through every service's registry.
  STAFF_LOGIN: { audience: AUDIENCE.staff, ttlMs: 15 * 60_000, scopes: ['staff'] },
  // A vaccinator's grant from the beneficiary's secret code: as long as an OTP grant.
  SECRET_CODE: { audience: AUDIENCE.consent, ttlMs: 5 * 60_000, scopes: ['beneficiary:access'] },
};
/** A consent grant is in force until it is withdrawn (revoked) or expires. */
export function grantInForce(
  token: { readonly revokedAt: Date | undefined; readonly expiresAt: Date },
  now: Date,
): boolean {
  return token.revokedAt === undefined && now < token.expiresAt;
}

export const LONGEST_TOKEN_TTL_MS = Math.max(...Object.values(TOKEN_POLICY).map((p) => p.ttlMs));

/** A new signing key is made once the active one is this old (configurable). */
export const DEFAULT_SIGNING_KEY_ROTATION_MS = 24 * 3_600_000;
/**
 * Extra time a rotated key stays published: covers instances that have not yet
 * reloaded the active key and clock skew between verifiers.
 */
export const KEY_RETIREMENT_MARGIN_MS = 5 * 60_000;

// ---- Retention (issue 23: nothing grows without bound; migration otp/0006_retention) ----

/** Sends are kept while a per-mobile window reads them: the longest window (24 hours). */
export const SEND_RETENTION_MS = Math.max(...MOBILE_SEND_QUOTAS.map((quota) => quota.windowMs));
/**
 * Transactions are kept as long as the sends, at least their lifetime: a late confirm
 * gets a precise refusal, not NOT_FOUND.
 */
export const TRANSACTION_RETENTION_MS = Math.max(SEND_RETENTION_MS, TXN_MAX_LIFETIME_MS);
/** A client's send buckets are kept while its quota window reads them. */
export const CLIENT_SEND_BUCKET_RETENTION_MS = CLIENT_QUOTA_WINDOW_MS;
/** An issued token's record is kept this long after it expired. */
export const ISSUED_TOKEN_RETENTION_MS = SEND_RETENTION_MS;
/**
 * A mobile's failure streak with no wrong code for a day is forgotten (its guard row
 * deleted). This gives a guesser nothing: reaching MOBILE_LOCKOUT_FAILURES already
 * costs only a lockout of MOBILE_LOCKOUT_MS (an hour), after which the count starts
 * afresh, so waiting a day to start afresh is slower than being locked out. Without it
 * every mobile that ever mistyped a code kept a row forever. Never shorter than the
 * lockout configured.
 */
export const MOBILE_FAILURE_STREAK_RETENTION_MS = 24 * 3_600_000;

/** When a streak whose last failure was at `at` may be forgotten. */
export function failureStreakForgottenAt(at: Date, lockoutMs: number): Date {
  return new Date(at.getTime() + Math.max(MOBILE_FAILURE_STREAK_RETENTION_MS, lockoutMs));
}

/** Rows deleted per statement by the pruner, so no statement holds many locks. */
export const PRUNE_BATCH_SIZE = 1_000;

export interface SendQuota {
  /** Also the `reason` of the RESOURCE_EXHAUSTED refusal. */
  readonly name: string;
  readonly windowMs: number;
  readonly limit: number;
}

/** A fresh code from the CSPRNG, zero-padded: every one of the 10^6 values is equally likely. */
export function generateCode(random: (max: number) => number = randomInt): string {
  return random(OTP_CODE_SPACE).toString().padStart(OTP_DIGITS, '0');
}

const CODE_FORMAT = new RegExp(`^\\d{${OTP_DIGITS}}$`);

/** Whether a submitted code is well formed; malformed ones do not cost an attempt. */
export function isWellFormedCode(code: string): boolean {
  return CODE_FORMAT.test(code);
}

/** The keyed hash stored instead of the code; bound to its transaction. */
export function hashCode(key: Buffer, txnId: string, code: string): Buffer {
  return createHmac('sha256', key).update(`${txnId}:${code}`).digest();
}

/** Compares a submitted code with the stored hash in constant time. */
export function codeMatches(key: Buffer, txnId: string, code: string, storedHash: Buffer): boolean {
  const candidate = hashCode(key, txnId, code);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}

/** When a code sent at `sentAt` expires: 3 minutes, never past the transaction's 10. */
export function codeExpiresAt(sentAt: Date, txnCreatedAt: Date): Date {
  return new Date(
    Math.min(sentAt.getTime() + OTP_EXPIRY_MS, txnCreatedAt.getTime() + TXN_MAX_LIFETIME_MS),
  );
}

/** Whether the transaction has outlived NIST's 10 minutes. */
export function txnHasOutlived(txnCreatedAt: Date, now: Date): boolean {
  return now.getTime() >= txnCreatedAt.getTime() + TXN_MAX_LIFETIME_MS;
}

export function resendAvailableAt(lastSentAt: Date): Date {
  return new Date(lastSentAt.getTime() + RESEND_COOLDOWN_MS);
}

/**
 * How long until a sliding-window quota admits another send, or 0 if it admits one
 * now. `nthMostRecent` is the send time of the `limit`-th most recent send inside the
 * window (undefined when there are fewer): the next send fits once it leaves the window.
 * Never longer than the window: a send stamped after `now` (by another instance, or by a
 * transaction that began later but committed first) counts as if sent now.
 */
export function quotaRetryAfterMs(
  quota: SendQuota,
  nthMostRecent: Date | undefined,
  now: Date,
): number {
  if (nthMostRecent === undefined) return 0;
  const leavesWindowAt = Math.min(nthMostRecent.getTime(), now.getTime()) + quota.windowMs;
  return Math.max(1, leavesWindowAt - now.getTime());
}

/** The start of the per-client counter a send at `sentAt` is counted in. */
export function clientQuotaBucket(sentAt: Date): Date {
  return new Date(Math.floor(sentAt.getTime() / CLIENT_QUOTA_BUCKET_MS) * CLIENT_QUOTA_BUCKET_MS);
}

export function windowStart(quota: SendQuota, now: Date): Date {
  return new Date(now.getTime() - quota.windowMs);
}

/** Whether a mobile is locked out now. */
export function isLocked(lockedUntil: Date | undefined, now: Date): boolean {
  return lockedUntil !== undefined && lockedUntil.getTime() > now.getTime();
}

/** Whether this many consecutive failures lock the mobile. */
export function reachesLockout(consecutiveFailures: number, threshold: number): boolean {
  return consecutiveFailures >= threshold;
}

export function attemptsLeft(failedAttempts: number): number {
  return Math.max(0, MAX_CONFIRM_ATTEMPTS - failedAttempts);
}

/** Whether the active signing key is old enough to be replaced. */
export function isRotationDue(
  activeCreatedAt: Date | undefined,
  now: Date,
  rotationMs: number,
): boolean {
  return activeCreatedAt === undefined || now.getTime() - activeCreatedAt.getTime() >= rotationMs;
}

/** Until when a key rotated at `rotatedAt` stays published: its last token has expired by then. */
export function keyRetiresAt(rotatedAt: Date): Date {
  return new Date(rotatedAt.getTime() + LONGEST_TOKEN_TTL_MS + KEY_RETIREMENT_MARGIN_MS);
}
