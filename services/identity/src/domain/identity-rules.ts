import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { failedPrecondition, invalidArgument } from '@vaxguard/errors';

/**
 * The rules of the identity service, each a named constant or a small pure function,
 * so a reader finds them in one place and each has its own unit test. Document formats,
 * masks and beneficiary references are in @vaxguard/pii, where every service uses them.
 */

// ---- Beneficiaries per mobile -------------------------------------------------------

/** CoWIN's rule: one mobile number registers at most 4 members of a household. */
export const MAX_BENEFICIARIES_PER_MOBILE = 4;

/** Refuses registering one more beneficiary on a mobile that already has the maximum. */
export function checkBeneficiaryLimit(registeredOnMobile: number): void {
  if (registeredOnMobile >= MAX_BENEFICIARIES_PER_MOBILE) {
    throw failedPrecondition(
      `a mobile number may register at most ${MAX_BENEFICIARIES_PER_MOBILE} beneficiaries`,
      { reason: 'BENEFICIARY_LIMIT' },
    );
  }
}

// ---- Year of birth ------------------------------------------------------------------

/**
 * The youngest age the programme vaccinates: 12, as CoWIN since March 2022 (Corbevax for
 * 12-14). Like CoWIN, age is counted by year of birth only (VaxGuard stores no date of
 * birth): a beneficiary is eligible from 1 January of the year they turn 12.
 */
export const MIN_AGE_YEARS = 12;
/** No one living was born earlier; an earlier year is a typing mistake. */
export const EARLIEST_YEAR_OF_BIRTH = 1900;
/** India Standard Time, UTC+05:30 all year: the programme's year turns at midnight IST. */
export const IST_OFFSET_MS = 5.5 * 3_600_000;

export function currentYearInIndia(now: Date): number {
  return new Date(now.getTime() + IST_OFFSET_MS).getUTCFullYear();
}

/** The latest year of birth eligible now: those turning 12 this year. */
export function latestEligibleYearOfBirth(now: Date): number {
  return currentYearInIndia(now) - MIN_AGE_YEARS;
}

/** Checks a year of birth: a real year (INVALID_YEAR_OF_BIRTH), old enough (BELOW_MINIMUM_AGE). */
export function checkYearOfBirth(yearOfBirth: number, now: Date): number {
  const thisYear = currentYearInIndia(now);
  if (
    !Number.isInteger(yearOfBirth) ||
    yearOfBirth < EARLIEST_YEAR_OF_BIRTH ||
    yearOfBirth > thisYear
  ) {
    throw invalidArgument(
      `year_of_birth must be a year from ${EARLIEST_YEAR_OF_BIRTH} to ${thisYear}`,
      { reason: 'INVALID_YEAR_OF_BIRTH' },
    );
  }
  const latest = latestEligibleYearOfBirth(now);
  if (yearOfBirth > latest) {
    throw invalidArgument(
      `beneficiaries must turn ${MIN_AGE_YEARS} this year or earlier: year_of_birth must be ${latest} or earlier`,
      { reason: 'BELOW_MINIMUM_AGE' },
    );
  }
  return yearOfBirth;
}

// ---- Names --------------------------------------------------------------------------

/** Room for a full name with every initial spelt out; bounded so a name field carries no bulk. */
export const NAME_MAX_LENGTH = 100;

/**
 * The scripts a name may be written in: Latin, and the scripts of the 22 languages of the
 * Eighth Schedule (Bengali for Assamese, Bengali and Manipuri; Meetei Mayek for Manipuri;
 * Devanagari for Hindi, Marathi, Nepali, Konkani, Bodo, Dogri, Maithili, Sanskrit;
 * Perso-Arabic for Urdu, Kashmiri and Sindhi; Ol Chiki for Santali; Gurmukhi, Gujarati,
 * Odia, Tamil, Telugu, Kannada and Malayalam for their own languages).
 */
export const NAME_SCRIPTS = [
  'Latin',
  'Devanagari',
  'Bengali',
  'Gurmukhi',
  'Gujarati',
  'Oriya',
  'Tamil',
  'Telugu',
  'Kannada',
  'Malayalam',
  'Meetei_Mayek',
  'Ol_Chiki',
  'Arabic',
] as const;

// A letter or combining mark (vowel signs, viramas, nuktas) of one of those scripts. Script
// extensions include the marks shared between scripts; digits of any script are neither.
const SCRIPT_CHAR = `(?=[\\p{L}\\p{M}])[${NAME_SCRIPTS.map((s) => `\\p{scx=${s}}`).join('')}]`;
const SCRIPT_LETTER = `(?=\\p{L})${SCRIPT_CHAR}`;
// Zero-width (non-)joiners shape conjuncts in Indic and Perso-Arabic writing.
const NAME_FORMAT = new RegExp(`^${SCRIPT_LETTER}(?:${SCRIPT_CHAR}|[\\u200c\\u200d .'-])*$`, 'u');

/**
 * Normalises and checks a name: Unicode NFC (so one spelling has one encoding), runs of
 * whitespace as one space, then at most 100 characters, starting with a letter, made of
 * letters of the scripts above, spaces, full stops, apostrophes and hyphens. No digits.
 * The refusal does not echo the name.
 */
export function normaliseName(input: string): string {
  const name = input.normalize('NFC').trim().replace(/\s+/gu, ' ');
  if ([...name].length > NAME_MAX_LENGTH || !NAME_FORMAT.test(name)) {
    throw invalidArgument(
      `name must be 1 to ${NAME_MAX_LENGTH} characters: letters (Latin or an Indian script), spaces, full stops, apostrophes and hyphens, starting with a letter, with no digits`,
      { reason: 'INVALID_NAME' },
    );
  }
  return name;
}

// ---- Gender -------------------------------------------------------------------------

export const GENDERS = ['FEMALE', 'MALE', 'OTHER'] as const;
export type Gender = (typeof GENDERS)[number];

/** `undefined` is the caller leaving gender unspecified, which registration refuses. */
export function parseGender(value: string | undefined): Gender {
  const gender = GENDERS.find((candidate) => candidate === value);
  if (!gender) {
    throw invalidArgument(`gender must be one of ${GENDERS.join(', ')}`, {
      reason: 'INVALID_GENDER',
    });
  }
  return gender;
}

// ---- The beneficiary's secret code --------------------------------------------------

/**
 * CoWIN's 4-digit secret code, shown to the citizen once at registration and given to
 * the vaccinator as consent. Stored only as a keyed hash bound to the beneficiary.
 */
export const SECRET_CODE_DIGITS = 4;
export const SECRET_CODE_SPACE = 10 ** SECRET_CODE_DIGITS;
/**
 * Wrong codes allowed in a row for one beneficiary (counted per beneficiary, whoever
 * tries): the 5th locks the code, so a guesser's chance is 5 in 10,000. The lock does not
 * expire: it lasts until the owner replaces the code (signing in with an OTP on their own
 * mobile issues a new one and clears the count). A lock that expired, say after an hour,
 * would give a patient guesser 5 more tries each hour: even odds in about six weeks.
 * A right code also clears the count.
 */
export const SECRET_CODE_MAX_FAILURES = 5;

/** A fresh code from the CSPRNG, zero-padded: each of the 10,000 values equally likely. */
export function generateSecretCode(random: (max: number) => number = randomInt): string {
  return random(SECRET_CODE_SPACE).toString().padStart(SECRET_CODE_DIGITS, '0');
}

const SECRET_CODE_FORMAT = new RegExp(`^\\d{${SECRET_CODE_DIGITS}}$`);

/** Refuses a malformed code before it is compared: a typo does not cost a try. */
export function checkSecretCodeFormat(code: string): void {
  if (!SECRET_CODE_FORMAT.test(code)) {
    throw invalidArgument(`secret_code must be ${SECRET_CODE_DIGITS} digits`, {
      reason: 'INVALID_SECRET_CODE',
    });
  }
}

/** The keyed hash stored instead of the code, bound to its beneficiary. */
export function hashSecretCode(key: Buffer, beneficiaryRef: string, code: string): Buffer {
  return createHmac('sha256', key)
    .update(`vaxguard/secret-code/v1:${beneficiaryRef}:${code}`)
    .digest();
}

/** Compares a submitted code with the stored hash in constant time. */
export function secretCodeMatches(
  key: Buffer,
  beneficiaryRef: string,
  code: string,
  storedHash: Buffer,
): boolean {
  const candidate = hashSecretCode(key, beneficiaryRef, code);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}

export function secretCodeTriesLeft(consecutiveFailures: number): number {
  return Math.max(0, SECRET_CODE_MAX_FAILURES - consecutiveFailures);
}

/** Refuses any try on a locked code, right or wrong, before it is compared. */
export function checkSecretCodeNotLocked(consecutiveFailures: number): void {
  if (consecutiveFailures >= SECRET_CODE_MAX_FAILURES) {
    throw failedPrecondition(
      `the secret code is locked after ${SECRET_CODE_MAX_FAILURES} wrong tries; the beneficiary must sign in with an OTP to get a new one`,
      { reason: 'SECRET_CODE_LOCKED' },
    );
  }
}

// ---- Consent grants -----------------------------------------------------------------

/**
 * How long a consent code lives: the OTP service's code lifetime (3 minutes). An answer
 * to a request that reached nobody says the same, so it reveals nothing.
 */
export const CONSENT_CODE_LIFETIME_MS = 3 * 60_000;
/**
 * Consent requests one staff member may make in a minute. A vaccinator asks the person in
 * front of them, one at a time: a few a minute at a busy session. Every request sends an
 * SMS on the portal's quota, shared by every vaccinator using that portal; without a cap
 * of their own, one insider's bot would spend it in seconds and stop every other
 * vaccinator's consent for the minute (the anomaly rules suspend the bot a little later).
 */
export const STAFF_CONSENT_REQUESTS_PER_MINUTE = 10;
/** The window of that cap. */
export const STAFF_CONSENT_WINDOW_MS = 60_000;

/**
 * A consent grant (from an OTP or the secret code) opens one beneficiary's record to one
 * grantee for 5 minutes: long enough to vaccinate, too short to harvest with. The same
 * lifetime as the OTP service's consent token.
 */
export const CONSENT_GRANT_TTL_MS = 5 * 60_000;

export function consentGrantExpiresAt(grantedAt: Date): Date {
  return new Date(grantedAt.getTime() + CONSENT_GRANT_TTL_MS);
}

export function isConsentGrantLive(expiresAt: Date, now: Date): boolean {
  return now.getTime() < expiresAt.getTime();
}

// ---- Staff passwords ----------------------------------------------------------------

/**
 * NIST SP 800-63B-4 §3.1.1.2: no composition rules (no "one digit and one symbol"),
 * length instead, every Unicode character allowed and counted as one after NFKC
 * normalisation, and no password built from the account's own name. Staff also prove an
 * OTP second factor; 12 characters sits between NIST's 8 (part of multi-factor) and
 * 15 (single factor) because a staff login is the insider path of the 2023 leak.
 */
export const STAFF_PASSWORD_MIN_LENGTH = 12;
/** NIST: allow at least 64; bounded so a request cannot make hashing do unbounded work. */
export const STAFF_PASSWORD_MAX_LENGTH = 128;

/**
 * scrypt at OWASP's Password Storage Cheat Sheet minimum: N = 2^17 (cost), r = 8 (block
 * size), p = 1 (parallelism): 128 MiB and about half a second per hash on these 2-core
 * machines (at most 4 at once: Node's thread pool), which makes guessing offline costly.
 */
export const STAFF_PASSWORD_SCRYPT = {
  cost: 2 ** 17,
  blockSize: 8,
  parallelization: 1,
  keyLength: 32,
  saltLength: 16,
} as const;
export type ScryptParameters = {
  readonly [K in keyof typeof STAFF_PASSWORD_SCRYPT]: number;
};

/**
 * Wrong passwords in a row before a staff account's sign-in locks (NIST allows at most
 * 100); the lock lasts an hour and the audit service sees every failure.
 */
export const STAFF_PASSWORD_MAX_FAILURES = 10;
export const STAFF_PASSWORD_LOCKOUT_MS = 60 * 60_000;

/**
 * Checks a new staff password against the rules and returns the NFKC form to hash.
 * Refusals name the rule, never the password.
 */
export function checkStaffPassword(password: string, context: { username: string }): string {
  const normalised = password.normalize('NFKC');
  const length = [...normalised].length;
  const refuse = (rule: string) => invalidArgument(rule, { reason: 'WEAK_PASSWORD' });
  if (length < STAFF_PASSWORD_MIN_LENGTH || length > STAFF_PASSWORD_MAX_LENGTH) {
    throw refuse(
      `password must be ${STAFF_PASSWORD_MIN_LENGTH} to ${STAFF_PASSWORD_MAX_LENGTH} characters long`,
    );
  }
  if (new Set(normalised).size === 1) throw refuse('password must not repeat one character');
  const username = context.username.normalize('NFKC').toLowerCase();
  if (username.length > 0 && normalised.toLowerCase().includes(username)) {
    throw refuse('password must not contain the username');
  }
  return normalised;
}

/** Until when a staff sign-in is locked after this many failures in a row, if it is. */
export function staffLockedUntil(
  consecutiveFailures: number,
  lastFailureAt: Date,
): Date | undefined {
  return consecutiveFailures >= STAFF_PASSWORD_MAX_FAILURES
    ? new Date(lastFailureAt.getTime() + STAFF_PASSWORD_LOCKOUT_MS)
    : undefined;
}

/**
 * Usernames one client application may fail to sign in at in a minute, counted across
 * instances, before every sign-in through it is refused until the minute ends. A lockout
 * per account cannot see spraying (one common password tried once at each of many
 * usernames): this can. Each staff sign-in that succeeds costs a STAFF_LOGIN code on the
 * client's OTP quota (30 a minute for a configured client), so no client signs in more
 * than about 30 staff a minute; mistyped passwords at a third of them in one minute is
 * already far beyond honest use, while a sprayer gets 10 tries a minute instead of
 * hundreds. Counted by distinct username, so one person retrying their own password
 * counts once. The refusal is checked before the username is looked up, so it says
 * nothing of whether the username exists.
 */
export const STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE = 10;
/** The window of that limit. */
export const STAFF_LOGIN_FAILURE_WINDOW_MS = 60_000;

/** The start of the fixed window `at` falls in. */
export function staffLoginFailureWindowStart(at: Date): Date {
  return new Date(at.getTime() - (at.getTime() % STAFF_LOGIN_FAILURE_WINDOW_MS));
}

/**
 * A client's failed usernames are read only in the window they were counted in: those of
 * earlier windows are deleted (issue 23; migration identity/0006_retention). A client's
 * next failure also deletes its own; this catches the clients that never fail again.
 */
export function clientSignInFailuresKeptFrom(now: Date): Date {
  return staffLoginFailureWindowStart(now);
}

/** Whether a client that failed at this many distinct usernames this window is refused. */
export function isClientSignInThrottled(failedUsernames: number): boolean {
  return failedUsernames >= STAFF_LOGIN_FAILED_USERNAMES_PER_CLIENT_PER_MINUTE;
}

/**
 * The keyed index of a username, in place of the username wherever a failed sign-in
 * must name it (an unknown username's event, the per-client count). An HMAC-SHA256
 * under an identity key with its own label: nobody without the key can test guessed
 * usernames against it.
 */
export function indexStaffUsername(key: Buffer, username: string): string {
  return createHmac('sha256', key)
    .update(`vaxguard/staff-username/v1:${username}`)
    .digest('base64url');
}

// ---- Partner clients ----------------------------------------------------------------

/**
 * Codes a minute the OTP service may send for a partner client (Aarogya Setu, UMANG): the
 * partner's own quota, granted when it is registered, in place of the small default that
 * clients configured at start-up get (otp-rules.ts). Every code is an SMS sent to a
 * person, and every read also needs that person's fresh consent; the quota bounds what a
 * leaked partner credential could send in a minute. The ceiling, 1,000 a second, is
 * above CoWIN's busiest minutes (about 700 doses a second on 17 Sep 2021), so one partner
 * can serve the whole country; no partner is ever unlimited.
 */
export const PARTNER_OTP_QUOTA_PER_MINUTE = { min: 1, max: 60_000 } as const;

export function checkPartnerQuota(codesPerMinute: number): number {
  const { min, max } = PARTNER_OTP_QUOTA_PER_MINUTE;
  if (!Number.isInteger(codesPerMinute) || codesPerMinute < min || codesPerMinute > max) {
    throw invalidArgument(
      `partner quota must be a whole number of codes per minute from ${min} to ${max}`,
      {
        reason: 'INVALID_PARTNER_QUOTA',
      },
    );
  }
  return codesPerMinute;
}

// ---- Consent SMS quotas of partner clients ------------------------------------------

/**
 * Consent requests a partner client may make a minute and a day unless its registry
 * entry says otherwise. Each request may send an SMS to the person it names, who asked
 * for nothing: a partner asks consent of its own user, one at a time, so 20 a minute is
 * far above what one app's users type (and a minute of a leaked credential's burst is
 * then 20 SMS, not 300), and 1,000 a day bounds what a partner paced just under the
 * minute quota can send (about 28,800 a day otherwise). A national partner is registered
 * with its own larger quotas; none is unlimited. The OTP quota (codes a minute, every
 * purpose) still applies on top: this one is the partner's consent SMS alone, counted
 * across identity instances in PostgreSQL, before anyone is looked up, so a refusal says
 * nothing of whether the mobile is registered.
 */
export const DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE = 20;
export const DEFAULT_PARTNER_CONSENT_SMS_PER_DAY = 1_000;
/** What a registry entry may grant: the OTP quota's ceiling a minute, and a day of it. */
export const PARTNER_CONSENT_SMS_PER_MINUTE = { min: 1, max: 60_000 } as const;
export const PARTNER_CONSENT_SMS_PER_DAY = { min: 1, max: 60_000 * 24 * 60 } as const;
export const CONSENT_SMS_MINUTE_MS = 60_000;
export const CONSENT_SMS_DAY_MS = 24 * 60 * 60_000;

export interface ConsentSmsQuota {
  readonly perMinute: number;
  readonly perDay: number;
}

/** A partner's consent SMS quota: its registry entry's, each one unset taking the default. */
export function consentSmsQuotaOf(entry: {
  readonly consentSmsPerMinute?: number | undefined;
  readonly consentSmsPerDay?: number | undefined;
}): ConsentSmsQuota {
  return {
    perMinute: entry.consentSmsPerMinute ?? DEFAULT_PARTNER_CONSENT_SMS_PER_MINUTE,
    perDay: entry.consentSmsPerDay ?? DEFAULT_PARTNER_CONSENT_SMS_PER_DAY,
  };
}

/** Checks a quota a platform admin grants a partner; unset stays unset (the default). */
export function checkConsentSmsQuota(
  value: number | undefined,
  per: 'minute' | 'day',
): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } =
    per === 'minute' ? PARTNER_CONSENT_SMS_PER_MINUTE : PARTNER_CONSENT_SMS_PER_DAY;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `consent_sms_per_${per} must be a whole number of requests a ${per} from ${min} to ${max}`,
      { reason: 'INVALID_PARTNER_QUOTA' },
    );
  }
  return value;
}

/** The start of the minute `at` falls in. */
export function consentSmsMinuteStart(at: Date): Date {
  return new Date(at.getTime() - (at.getTime() % CONSENT_SMS_MINUTE_MS));
}

/** The start of the day in India (midnight IST) `at` falls in. */
export function consentSmsDayStart(at: Date): Date {
  const ist = at.getTime() + IST_OFFSET_MS;
  return new Date(ist - (ist % CONSENT_SMS_DAY_MS) - IST_OFFSET_MS);
}

/**
 * A client's consent SMS counts say nothing once their day is over (the next request
 * starts both counts afresh): a row whose day ended a whole day ago is deleted (issue
 * 23; migration identity/0006_retention), so the table holds the clients that asked
 * lately, not every client that ever asked. The day of grace keeps the pruner far from
 * a row a request is counting in.
 */
export function consentSmsCountsKeptFrom(now: Date): Date {
  return new Date(consentSmsDayStart(now).getTime() - CONSENT_SMS_DAY_MS);
}

/** How often identity's retention rules run, and the rows one statement deletes at most. */
export const RETENTION_PRUNE_INTERVAL_MS = 10 * 60_000;
export const RETENTION_PRUNE_BATCH_SIZE = 1_000;

/** A partner's consent requests counted so far in the current minute and day. */
export interface ConsentSmsCounts {
  readonly minuteStart: Date;
  readonly minuteRequests: number;
  readonly dayStart: Date;
  readonly dayRequests: number;
}

export type ConsentSmsDecision =
  | { readonly admitted: true; readonly counts: ConsentSmsCounts }
  | {
      readonly admitted: false;
      readonly per: 'minute' | 'day';
      readonly limit: number;
      /** Until the window that is full ends. */
      readonly retryAfterMs: number;
    };

/**
 * Whether one more consent request fits the partner's quota at `now`, given what was
 * counted (undefined: nothing yet). Counts from an earlier window start again at 0. An
 * admitted request returns the counts to store; a refused one is not counted, so a
 * burst refused by the minute does not spend the day.
 */
export function decideConsentSms(
  counted: ConsentSmsCounts | undefined,
  quota: ConsentSmsQuota,
  now: Date,
): ConsentSmsDecision {
  const minuteStart = consentSmsMinuteStart(now);
  const dayStart = consentSmsDayStart(now);
  const minuteRequests =
    counted?.minuteStart.getTime() === minuteStart.getTime() ? counted.minuteRequests : 0;
  const dayRequests = counted?.dayStart.getTime() === dayStart.getTime() ? counted.dayRequests : 0;
  if (dayRequests >= quota.perDay) {
    return {
      admitted: false,
      per: 'day',
      limit: quota.perDay,
      retryAfterMs: dayStart.getTime() + CONSENT_SMS_DAY_MS - now.getTime(),
    };
  }
  if (minuteRequests >= quota.perMinute) {
    return {
      admitted: false,
      per: 'minute',
      limit: quota.perMinute,
      retryAfterMs: minuteStart.getTime() + CONSENT_SMS_MINUTE_MS - now.getTime(),
    };
  }
  return {
    admitted: true,
    counts: {
      minuteStart,
      minuteRequests: minuteRequests + 1,
      dayStart,
      dayRequests: dayRequests + 1,
    },
  };
}

// ---- The kill switch over client applications ---------------------------------------

/**
 * A client application's id as every service's configuration accepts it
 * (CLIENT_CREDENTIALS): identity suspends any such id, registered here or not, since it
 * cannot list the clients configured at other services and their suspension must still
 * reach every service.
 */
export const ANY_CLIENT_ID = /^[a-z0-9][a-z0-9._-]{1,63}$/;

/**
 * The platform's own services call each other as clients whose ids start `svc-`
 * (SERVICE_CLIENT_ID); no partner may be registered under one. Stopping one stops that
 * service's calls to every other: identity could no longer have staff sign-in codes
 * sent (so no admin could sign in to undo it), the audit service could no longer
 * suspend anyone. So the kill switch (a suspension, or an API lock on one client) stops
 * a platform service's client only when a platform admin asks for it explicitly
 * (`confirm_platform_service`), and never as the audit service's automatic response: a
 * provoked anomaly or a mistaken click must not be able to take the platform down.
 * Reinstating or clearing needs no confirmation.
 */
export const PLATFORM_SERVICE_CLIENT_PREFIX = 'svc-';

export function isPlatformServiceClient(clientId: string): boolean {
  return clientId.startsWith(PLATFORM_SERVICE_CLIENT_PREFIX);
}

/**
 * Refuses stopping a platform service's client unless a platform admin confirmed it.
 * `byPlatformAdmin` is false for the audit service's automatic response.
 */
export function checkPlatformServiceClientStop(
  clientId: string,
  stop: { readonly byPlatformAdmin: boolean; readonly confirmed: boolean },
): void {
  if (!isPlatformServiceClient(clientId)) return;
  if (!stop.byPlatformAdmin) {
    throw failedPrecondition(
      "a platform service's own client is stopped only by a platform admin, never automatically",
      { reason: 'PLATFORM_SERVICE_CLIENT' },
    );
  }
  if (!stop.confirmed) {
    throw failedPrecondition(
      "this is a platform service's own client: stopping it stops that service's calls to every other service; set confirm_platform_service to do so",
      { reason: 'PLATFORM_SERVICE_CLIENT' },
    );
  }
}
