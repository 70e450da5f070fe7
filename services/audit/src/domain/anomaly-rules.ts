import { ConfigError } from '@vaxguard/config';
import type {
  Alert,
  AlertPrincipal,
  AnomalyRuleName,
  AutomaticResponse,
  CountWindow,
  DistinctWindow,
  Observation,
  ObservedActor,
  ReadBasis,
  Severity,
  WindowStore,
} from './anomaly-model';

/**
 * The anomaly rules of the audit service, each a named constant or a small pure
 * function, so a reader finds every threshold and window here. They answer the 2023
 * leak: records were harvested with a health worker's login and through an API that
 * answered for any mobile number, and nothing noticed. Thresholds are configurable (the
 * defaults below, with their reasons); windows are fixed.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

// ---- Windows ------------------------------------------------------------------------

/** Distinct beneficiaries read by one staff member: the last hour and the last 24 hours. */
export const STAFF_READ_WINDOWS = [
  { name: '1h', durationMs: HOUR_MS },
  { name: '24h', durationMs: DAY_MS },
] as const satisfies readonly DistinctWindow[];

/** Distinct people (mobiles, or beneficiaries asked by secret code) one staff member asked. */
export const CONSENT_REQUEST_WINDOW = {
  name: '1h',
  durationMs: HOUR_MS,
} as const satisfies DistinctWindow;

/** Distinct beneficiaries read by one staff member outside working hours. */
export const OFF_HOURS_READ_WINDOW = {
  name: '1h',
  durationMs: HOUR_MS,
} as const satisfies DistinctWindow;

/**
 * Distinct beneficiaries at whom one staff member gave a wrong secret code, and distinct
 * beneficiaries whose code their wrong guess locked.
 */
export const SECRET_CODE_GUESS_WINDOW = {
  name: '1h',
  durationMs: HOUR_MS,
} as const satisfies DistinctWindow;

/** Failed confirmations per mobile: the OTP service's own 15-minute send window. */
export const OTP_FAILURE_WINDOW = {
  name: '15m',
  durationMs: 15 * MINUTE_MS,
  bucketMs: MINUTE_MS,
} as const satisfies CountWindow;

/** Sends refused per client for its quota: the OTP service's per-client quota is per minute. */
export const OTP_QUOTA_REFUSAL_WINDOW = {
  name: '1m',
  durationMs: MINUTE_MS,
  bucketMs: 5_000,
} as const satisfies CountWindow;

/** Distinct accounts and unknown usernames at which one client's staff sign-ins failed. */
export const STAFF_LOGIN_SPRAY_WINDOW = {
  name: '10m',
  durationMs: 10 * MINUTE_MS,
} as const satisfies DistinctWindow;

/**
 * Distinct people a partner asked consent of who had nothing registered (a mobile with
 * no beneficiaries, an unknown reference).
 */
export const PARTNER_UNREGISTERED_CONSENT_WINDOW = {
  name: '10m',
  durationMs: 10 * MINUTE_MS,
} as const satisfies DistinctWindow;

/** Refused reads per principal. */
export const DENIED_READS_WINDOW = {
  name: '10m',
  durationMs: 10 * MINUTE_MS,
  bucketMs: MINUTE_MS,
} as const satisfies CountWindow;

/**
 * A partner's rate: everything it did in the last 10 minutes against what it usually
 * does in 10 minutes, its average over the last 24 hours (a whole daily cycle, so a
 * partner busy every morning is not "unusual" every morning; the 10 minutes themselves
 * are left out so a surge does not raise its own baseline). Each call counts once, the
 * refused ones too (a quota's refusal, a denied read): a consent request is counted by
 * identity's event, not again by the OTP service's event for the code it sent.
 */
export const PARTNER_RATE_WINDOWS = [
  { name: '10m', durationMs: 10 * MINUTE_MS, bucketMs: MINUTE_MS },
  { name: '24h', durationMs: DAY_MS, bucketMs: 15 * MINUTE_MS },
] as const satisfies readonly CountWindow[];

/** Rules that fire on one observation raise it once per principal per hour. */
export const INSTANT_ALERT_HOLD_MS = HOUR_MS;

/** State older than the longest window is never read again; the store may delete it. */
export const ANOMALY_STATE_RETENTION_MS = DAY_MS;

/**
 * An observation older than the longest window, when it arrives (a consumer group read
 * from the beginning of a topic's retention, a long outage), is not evaluated: no open
 * window can hold it, and an alert for it would suspend someone for a day-old offence
 * that auditors can still find in the log.
 */
export function isStale(occurredAt: Date, now: Date): boolean {
  return now.getTime() - occurredAt.getTime() > ANOMALY_STATE_RETENTION_MS;
}

// ---- Thresholds (configurable) ------------------------------------------------------

/**
 * India's COVID-19 vaccination guidelines (MoHFW, December 2020) plan 100 to 200
 * beneficiaries per session day, about 25 an hour over 8 hours. Twice the busy pace
 * is the hourly limit; a day's limit is one full session. A drip of 49 an hour for a
 * working day (392) crosses the daily limit well before the day ends.
 */
export const DEFAULT_STAFF_READS_PER_HOUR = 50;
export const DEFAULT_STAFF_READS_PER_DAY = 200;
/** Each reader asks one person per household: fewer mobiles than records. */
export const DEFAULT_CONSENT_REQUESTS_PER_HOUR = 40;
/**
 * A person mistypes a code once or twice; the OTP service allows 3 tries for each of 5
 * codes per 15 minutes (15 at most). More than 10 is someone guessing.
 */
export const DEFAULT_OTP_FAILURES_PER_15M = 10;
/**
 * SMS pumping: a client that has had its quota of codes for the minute and keeps asking.
 * Each refusal tells it when to try again (retry-after, which the client kit waits out),
 * so a client at its quota is refused now and then; one refused more often in a minute
 * than its quota allows codes (asking for over twice its quota) is ignoring that, as a
 * pump does. The threshold is the client's own quota, as the OTP service reported it with
 * each refusal, and at least this many: with the OTP service's default quota of 30 a
 * minute, a pump gets 30 codes and 31 refusals, then it is suspended.
 */
export const DEFAULT_OTP_QUOTA_REFUSALS_PER_MINUTE = 10;
/**
 * Secret codes are guessed across beneficiaries, not at one: identity locks a code after
 * 5 wrong tries (each try 1 in 10,000), so 5 tries at each of 2,000 beneficiaries finds
 * about one code. Honest failures are a mistyped digit or a citizen who misremembers, and
 * the vaccinator then asks for consent by OTP: at a busy 25 beneficiaries an hour, a wrong
 * code at 6 different people in one hour is not typing. A guesser who stops short of each
 * lock (4 tries each) is suspended at their first wrong code at a sixth beneficiary,
 * after at most 21 guesses: about a 0.2% chance of having found a code.
 */
export const DEFAULT_SECRET_CODE_FAILURES_PER_HOUR = 5;
/**
 * A lock takes 5 wrong codes in a row at one beneficiary: one may be an honest muddle
 * (an alert, for auditors to look at), a second in the same hour is not. A guesser who
 * tries all 5 at each beneficiary is suspended at the second lock, after 10 guesses.
 */
export const DEFAULT_SECRET_CODE_LOCKS_PER_HOUR = 1;
/**
 * Password spraying: one password tried once at each of many usernames, which no
 * per-account lockout sees. A client signs in at most about 30 staff a minute (each
 * success costs a STAFF_LOGIN code on its OTP quota), 300 in 10 minutes; wrong passwords
 * at more than 20 different usernames through one client in that time would be 7% of
 * them at full pace, not typing. Identity refuses a client after 10 failing usernames in
 * a minute, and every refused try is still an event: a burst crosses this at its 21st
 * username, a sprayer kept under identity's limit within about 2 minutes.
 */
export const DEFAULT_STAFF_LOGIN_FAILED_USERNAMES_PER_10M = 20;
/** Far above usual: 10 times its 24-hour average, well above a daily peak (2 to 3 times). */
export const DEFAULT_PARTNER_SURGE_FACTOR = 10;
/**
 * ...and at least this many in 10 minutes (one a second), so a quiet partner may burst:
 * a partner may make 600 calls in 10 minutes, and the 601st raises the alert.
 */
export const DEFAULT_PARTNER_SURGE_MINIMUM = 600;
/**
 * SMS pumping through consent: a partner asks consent of one of its own users at a time,
 * who gives their own mobile, nearly always one registered for vaccination. A consent
 * request for a mobile with nothing registered still sends that mobile a code (the
 * partner must not learn who is registered), to someone who asked for nothing: a few in
 * 10 minutes is a typo or a curious user, more than 5 distinct ones is a list of numbers.
 * Identity's consent SMS quota (20 a minute, 1,000 a day unless the partner's entry says
 * otherwise) already bounds the SMS sent; this tells the auditors which partner is doing it.
 */
export const DEFAULT_PARTNER_UNREGISTERED_CONSENTS_PER_10M = 5;
/** Honest callers are refused now and then (an expired grant); harvesters all the time. */
export const DEFAULT_DENIED_READS_PER_10M = 20;
/** Nobody vaccinates at night; a few reads (an emergency, a late session) are allowed. */
export const DEFAULT_OFF_HOURS_READS_PER_HOUR = 10;
/** Vaccination sessions run 09:00 to 17:00; an hour of margin either side. */
export const DEFAULT_WORKING_HOURS = { start: '08:00', end: '20:00' } as const;

/** India Standard Time, UTC+05:30 all year. */
export const IST_OFFSET_MS = 5.5 * HOUR_MS;

/** Thresholds as configured: each rule fires when its count is more than its threshold. */
export interface AnomalyConfigInput {
  readonly staffReadsPerHour?: number;
  readonly staffReadsPerDay?: number;
  readonly consentRequestsPerHour?: number;
  readonly otpFailuresPer15m?: number;
  /** The least the flood rule waits for; a client's own quota, when higher, is its threshold. */
  readonly otpQuotaRefusalsPerMinute?: number;
  readonly partnerSurgeFactor?: number;
  readonly partnerSurgeMinimum?: number;
  /** Distinct people with nothing registered one partner asked consent of, in 10 minutes. */
  readonly partnerUnregisteredConsentsPer10m?: number;
  readonly deniedReadsPer10m?: number;
  readonly offHoursReadsPerHour?: number;
  /** Distinct beneficiaries one staff member gave a wrong secret code for, in an hour. */
  readonly secretCodeFailuresPerHour?: number;
  /** Secret codes one staff member's wrong guesses locked, in an hour. */
  readonly secretCodeLocksPerHour?: number;
  /** Distinct usernames at which one client's staff sign-ins failed, in 10 minutes. */
  readonly staffLoginFailedUsernamesPer10m?: number;
  /** `HH:MM` in IST, start included, end excluded; a start after the end spans midnight. */
  readonly workingHours?: { readonly start: string; readonly end: string };
}

/** Minutes since midnight IST. */
export interface WorkingHours {
  readonly startMinute: number;
  readonly endMinute: number;
}

export interface AnomalyConfig extends Required<Omit<AnomalyConfigInput, 'workingHours'>> {
  readonly workingHours: WorkingHours;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

function minuteOfDay(value: string): number | undefined {
  const match = HH_MM.exec(value);
  if (!match) return undefined;
  return match[1] === undefined ? 24 * 60 : Number(match[1]) * 60 + Number(match[2]);
}

/**
 * Fills the defaults and checks every threshold, reporting every problem together
 * (a ConfigError, which the service's start-up prints as it prints a bad variable).
 */
export function compileAnomalyConfig(input: AnomalyConfigInput = {}): AnomalyConfig {
  const problems: string[] = [];
  const count = (name: keyof AnomalyConfigInput, value: number): number => {
    if (!Number.isSafeInteger(value) || value < 1) {
      problems.push(`${name} must be a whole number of at least 1`);
    }
    return value;
  };
  const staffReadsPerHour = count(
    'staffReadsPerHour',
    input.staffReadsPerHour ?? DEFAULT_STAFF_READS_PER_HOUR,
  );
  const staffReadsPerDay = count(
    'staffReadsPerDay',
    input.staffReadsPerDay ?? DEFAULT_STAFF_READS_PER_DAY,
  );
  // The daily limit exists to catch a drip under the hourly one: reading just under the
  // hourly limit all day must cross it, and the hourly limit alone must not.
  if (staffReadsPerDay <= staffReadsPerHour || staffReadsPerDay >= 24 * staffReadsPerHour) {
    problems.push(
      'staffReadsPerDay must be more than staffReadsPerHour and less than 24 times it, or a drip under the hourly limit goes unseen',
    );
  }
  const partnerSurgeFactor = input.partnerSurgeFactor ?? DEFAULT_PARTNER_SURGE_FACTOR;
  if (!Number.isFinite(partnerSurgeFactor) || partnerSurgeFactor <= 1) {
    problems.push('partnerSurgeFactor must be a number above 1');
  }
  const hours = input.workingHours ?? DEFAULT_WORKING_HOURS;
  const startMinute = minuteOfDay(hours.start);
  const endMinute = minuteOfDay(hours.end);
  if (startMinute === undefined || endMinute === undefined || startMinute === endMinute) {
    problems.push('workingHours must be two different times HH:MM (IST), such as 08:00 and 20:00');
  }
  const config: AnomalyConfig = {
    staffReadsPerHour,
    staffReadsPerDay,
    consentRequestsPerHour: count(
      'consentRequestsPerHour',
      input.consentRequestsPerHour ?? DEFAULT_CONSENT_REQUESTS_PER_HOUR,
    ),
    otpFailuresPer15m: count(
      'otpFailuresPer15m',
      input.otpFailuresPer15m ?? DEFAULT_OTP_FAILURES_PER_15M,
    ),
    otpQuotaRefusalsPerMinute: count(
      'otpQuotaRefusalsPerMinute',
      input.otpQuotaRefusalsPerMinute ?? DEFAULT_OTP_QUOTA_REFUSALS_PER_MINUTE,
    ),
    partnerSurgeFactor,
    partnerSurgeMinimum: count(
      'partnerSurgeMinimum',
      input.partnerSurgeMinimum ?? DEFAULT_PARTNER_SURGE_MINIMUM,
    ),
    partnerUnregisteredConsentsPer10m: count(
      'partnerUnregisteredConsentsPer10m',
      input.partnerUnregisteredConsentsPer10m ?? DEFAULT_PARTNER_UNREGISTERED_CONSENTS_PER_10M,
    ),
    deniedReadsPer10m: count(
      'deniedReadsPer10m',
      input.deniedReadsPer10m ?? DEFAULT_DENIED_READS_PER_10M,
    ),
    offHoursReadsPerHour: count(
      'offHoursReadsPerHour',
      input.offHoursReadsPerHour ?? DEFAULT_OFF_HOURS_READS_PER_HOUR,
    ),
    secretCodeFailuresPerHour: count(
      'secretCodeFailuresPerHour',
      input.secretCodeFailuresPerHour ?? DEFAULT_SECRET_CODE_FAILURES_PER_HOUR,
    ),
    secretCodeLocksPerHour: count(
      'secretCodeLocksPerHour',
      input.secretCodeLocksPerHour ?? DEFAULT_SECRET_CODE_LOCKS_PER_HOUR,
    ),
    staffLoginFailedUsernamesPer10m: count(
      'staffLoginFailedUsernamesPer10m',
      input.staffLoginFailedUsernamesPer10m ?? DEFAULT_STAFF_LOGIN_FAILED_USERNAMES_PER_10M,
    ),
    workingHours: { startMinute: startMinute ?? 0, endMinute: endMinute ?? 0 },
  };
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `anomaly rules: ${p}`));
  return config;
}

// ---- Small rules --------------------------------------------------------------------

/** Whether `at` falls in working hours, India Standard Time. */
export function isWithinWorkingHours(at: Date, hours: WorkingHours): boolean {
  const minute = Math.floor(((at.getTime() + IST_OFFSET_MS) % DAY_MS) / MINUTE_MS);
  const istMinute = (minute + 24 * 60) % (24 * 60);
  return hours.startMinute < hours.endMinute
    ? istMinute >= hours.startMinute && istMinute < hours.endMinute
    : istMinute >= hours.startMinute || istMinute < hours.endMinute;
}

/**
 * Whether a read had the basis it needs: a citizen reads their own records, staff and
 * partners read with a consent grant. Any other read (a service, a staff read as
 * "owner", a grant without an id) should be impossible.
 */
export function readHasMatchingBasis(actor: ObservedActor, basis: ReadBasis): boolean {
  switch (actor.kind) {
    case 'CITIZEN':
      return basis.kind === 'OWNER';
    case 'STAFF':
    case 'PARTNER_CLIENT':
      return basis.kind === 'CONSENT' && basis.grantId !== '';
    case 'SERVICE':
      return false;
  }
}

/**
 * The partner's usual count for one short window: its count over the long window, less
 * the short window itself, spread over the short windows that fit in the rest.
 */
export function usualPerWindow(shortCount: number, longCount: number): number {
  const [short, long] = PARTNER_RATE_WINDOWS;
  const windowsInRest = long.durationMs / short.durationMs - 1;
  return Math.max(0, longCount - shortCount) / windowsInRest;
}

/** How many a partner may do in the short window before the surge rule fires. */
export function partnerSurgeThreshold(usual: number, config: AnomalyConfig): number {
  return Math.max(config.partnerSurgeMinimum, Math.floor(config.partnerSurgeFactor * usual));
}

/** Refusals for its quota a client may have in a minute before it is a flood. */
export function otpFloodThreshold(quotaPerMinute: number, config: AnomalyConfig): number {
  return Math.max(config.otpQuotaRefusalsPerMinute, quotaPerMinute);
}

/** High and critical alerts against a staff member or a partner stop them at once. */
export function responseFor(severity: Severity, principal: AlertPrincipal): AutomaticResponse {
  if (severity !== 'HIGH' && severity !== 'CRITICAL') return 'NONE';
  if (principal.kind === 'STAFF') return 'SUSPEND_STAFF';
  if (principal.kind === 'PARTNER_CLIENT') return 'LOCK_PARTNER';
  return 'NONE';
}

/** How severe each rule is, and why. */
export const RULE_SEVERITY: Readonly<Record<AnomalyRuleName, Severity>> = {
  // The insider harvest of 2023.
  STAFF_READS_PER_HOUR: 'HIGH',
  STAFF_READS_PER_DAY: 'HIGH',
  // Asking consent of many people is the first step of the same harvest.
  CONSENT_REQUESTS_PER_HOUR: 'HIGH',
  // The consent gate was bypassed: a defect or an attack, either way stop the reader.
  READ_WITHOUT_CONSENT: 'HIGH',
  // Nobody has a reason to read a record that belongs to no one.
  CANARY_READ: 'CRITICAL',
  // The OTP service already locks the mobile; auditors should know who tried.
  OTP_FAILURE_BURST: 'MEDIUM',
  // SMS pumping: the quota stops each minute's codes, only a suspension stops the client.
  OTP_REQUEST_FLOOD: 'HIGH',
  // The bot of 2023 worked through a whitelisted partner API.
  PARTNER_RATE_SURGE: 'HIGH',
  // Not HIGH: a partner's requests are its users' (one user typing strangers' numbers into
  // the partner's app would otherwise lock the app for everyone), and identity's consent
  // SMS quota already caps what is sent. Auditors ask the partner; a pump that ignores
  // the quota's refusals is locked by the surge rule, which counts them.
  PARTNER_CONSENT_TO_UNREGISTERED: 'MEDIUM',
  DENIED_READS_SPIKE: 'HIGH',
  OFF_HOURS_READS: 'HIGH',
  // One locked code: identity already refuses the right code, so nothing more is at risk
  // there, and a citizen who misremembers their code can lock it in an honest
  // vaccinator's hands. Auditors should know who made the guesses; the guessing rules
  // below stop the vaccinator if it happens again.
  SECRET_CODE_LOCKED: 'MEDIUM',
  // Guessing secret codes across beneficiaries: each one guessed at is a 5 in 10,000
  // chance of a consent nobody gave. Stop the guesser.
  SECRET_CODE_FAILURES_PER_HOUR: 'HIGH',
  SECRET_CODE_LOCKS_PER_HOUR: 'HIGH',
  // The alert names the locked account, which is the target, not the culprit: its
  // sign-in is already locked for an hour, and suspending it would finish the attacker's
  // work. Auditors should ask its owner and look at the client that made the guesses.
  STAFF_LOGIN_LOCKED: 'MEDIUM',
  // The alert names the client, which is usually the staff portal every vaccinator signs
  // in through: suspending it would stop every staff sign-in, the attacker's aim rather
  // than a defence. Identity already throttles the client; auditors find who holds it.
  STAFF_LOGIN_SPRAYING: 'MEDIUM',
  // The audit log's own (log-keeper.ts). A log that would sign a shorter or forked tree,
  // or whose witness refused it, has been rolled back: every later verification rests on it.
  LOG_ROLLBACK: 'CRITICAL',
  // Stored entries that no longer match the tree: the record of who read what was edited.
  LOG_TAMPERED: 'CRITICAL',
  // Entries are kept, but nobody outside the log vouches for them while this lasts.
  CHECKPOINT_NOT_COSIGNED: 'HIGH',
};

// ---- Evaluation ---------------------------------------------------------------------

interface Finding {
  readonly rule: AnomalyRuleName;
  readonly principal: AlertPrincipal;
  readonly windowName: string;
  readonly durationMs: number;
  readonly observed: number;
  readonly threshold: number;
  readonly usual?: number;
}

function principalOf(actor: ObservedActor): AlertPrincipal {
  return { kind: actor.kind, id: actor.principalId };
}

function stateKey(rule: string, principal: AlertPrincipal): string {
  return `${rule}|${principal.kind}:${principal.id}`;
}

/** The client behind an OTP call: its client id, or the principal when there is none. */
function otpClientOf(actor: ObservedActor): AlertPrincipal {
  return { kind: actor.kind, id: actor.clientId || actor.principalId };
}

/** A finding when `observed` is more than `threshold` in `window`, none otherwise. */
function over(
  rule: AnomalyRuleName,
  principal: AlertPrincipal,
  window: DistinctWindow,
  observed: number,
  threshold: number,
): Finding[] {
  if (observed <= threshold) return [];
  return [
    {
      rule,
      principal,
      windowName: window.name,
      durationMs: window.durationMs,
      observed,
      threshold,
    },
  ];
}

async function staffReads(
  observation: Extract<Observation, { kind: 'READ_GRANTED' }>,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  if (observation.actor.kind !== 'STAFF') return [];
  const principal = principalOf(observation.actor);
  const ref = observation.subject.beneficiaryRef;
  const at = observation.occurredAt;
  const [hour, day] = STAFF_READ_WINDOWS;
  const counts = await store.addDistinct(
    stateKey('STAFF_READS', principal),
    ref,
    at,
    STAFF_READ_WINDOWS,
  );
  const findings = [
    ...over('STAFF_READS_PER_HOUR', principal, hour, counts[hour.name], config.staffReadsPerHour),
    ...over('STAFF_READS_PER_DAY', principal, day, counts[day.name], config.staffReadsPerDay),
  ];
  if (!isWithinWorkingHours(at, config.workingHours)) {
    const window = OFF_HOURS_READ_WINDOW;
    const offHours = await store.addDistinct(stateKey('OFF_HOURS_READS', principal), ref, at, [
      window,
    ]);
    findings.push(
      ...over(
        'OFF_HOURS_READS',
        principal,
        window,
        offHours[window.name],
        config.offHoursReadsPerHour,
      ),
    );
  }
  return findings;
}

function readWithoutConsent(
  observation: Extract<Observation, { kind: 'READ_GRANTED' }>,
): Finding[] {
  if (readHasMatchingBasis(observation.actor, observation.basis)) return [];
  return [instant('READ_WITHOUT_CONSENT', principalOf(observation.actor))];
}

function instant(rule: AnomalyRuleName, principal: AlertPrincipal): Finding {
  return {
    rule,
    principal,
    windowName: 'instant',
    durationMs: INSTANT_ALERT_HOLD_MS,
    observed: 1,
    threshold: 0,
  };
}

async function counted(
  rule: AnomalyRuleName,
  principal: AlertPrincipal,
  window: CountWindow,
  threshold: number,
  at: Date,
  store: WindowStore,
): Promise<Finding[]> {
  const counts = await store.increment(stateKey(rule, principal), at, [window]);
  return over(rule, principal, window, counts[window.name] ?? 0, threshold);
}

async function consentRequests(
  observation: Extract<Observation, { kind: 'CONSENT_REQUESTED' }>,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  // Staff only: a partner app asks consent for each of its users, who are many by
  // design; a partner's volume is judged against its own usual rate instead.
  if (observation.actor.kind !== 'STAFF') return [];
  const principal = principalOf(observation.actor);
  const subject = observation.subject;
  const person =
    subject.kind === 'MOBILE' ? `mobile:${subject.mobileIndex}` : `ben:${subject.beneficiaryRef}`;
  const window = CONSENT_REQUEST_WINDOW;
  const counts = await store.addDistinct(
    stateKey('CONSENT_REQUESTS_PER_HOUR', principal),
    person,
    observation.occurredAt,
    [window],
  );
  return over(
    'CONSENT_REQUESTS_PER_HOUR',
    principal,
    window,
    counts[window.name],
    config.consentRequestsPerHour,
  );
}

/**
 * Wrong secret codes and locks, counted per staff member by distinct beneficiary (a lock
 * is also raised on its own). Only vaccinators take secret codes; anyone else named as
 * the actor is left to the other rules.
 */
async function secretCodeGuessing(
  observation: Extract<Observation, { kind: 'SECRET_CODE_FAILED' | 'SECRET_CODE_LOCKED' }>,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  if (observation.actor.kind !== 'STAFF') return [];
  const principal = principalOf(observation.actor);
  const window = SECRET_CODE_GUESS_WINDOW;
  const [rule, threshold] =
    observation.kind === 'SECRET_CODE_FAILED'
      ? (['SECRET_CODE_FAILURES_PER_HOUR', config.secretCodeFailuresPerHour] as const)
      : (['SECRET_CODE_LOCKS_PER_HOUR', config.secretCodeLocksPerHour] as const);
  const counts = await store.addDistinct(
    stateKey(rule, principal),
    observation.subject.beneficiaryRef,
    observation.occurredAt,
    [window],
  );
  return [
    ...(observation.kind === 'SECRET_CODE_LOCKED'
      ? [instant('SECRET_CODE_LOCKED', principal)]
      : []),
    ...over(rule, principal, window, counts[window.name], threshold),
  ];
}

/**
 * A partner asking consent of people with nothing registered: distinct mobiles (or
 * references) per partner in 10 minutes. Staff ask the person in front of them, who may
 * not be registered yet; their requests are judged by the consent request rule.
 */
async function partnerConsentToUnregistered(
  observation: Extract<Observation, { kind: 'CONSENT_REQUESTED' }>,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  if (observation.actor.kind !== 'PARTNER_CLIENT' || !observation.toNobodyRegistered) return [];
  const principal = principalOf(observation.actor);
  const subject = observation.subject;
  const window = PARTNER_UNREGISTERED_CONSENT_WINDOW;
  const counts = await store.addDistinct(
    stateKey('PARTNER_CONSENT_TO_UNREGISTERED', principal),
    subject.kind === 'MOBILE' ? `mobile:${subject.mobileIndex}` : `ben:${subject.beneficiaryRef}`,
    observation.occurredAt,
    [window],
  );
  return over(
    'PARTNER_CONSENT_TO_UNREGISTERED',
    principal,
    window,
    counts[window.name],
    config.partnerUnregisteredConsentsPer10m,
  );
}

async function partnerRate(
  observation: Observation,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  if (observation.actor.kind !== 'PARTNER_CLIENT') return [];
  // A consent code is one consent request, which identity's own event counts already.
  if (observation.kind === 'OTP_REQUESTED' && observation.forConsent) return [];
  const principal = principalOf(observation.actor);
  const counts = await store.increment(
    stateKey('PARTNER_RATE_SURGE', principal),
    observation.occurredAt,
    PARTNER_RATE_WINDOWS,
  );
  const [short, long] = PARTNER_RATE_WINDOWS;
  const usual = usualPerWindow(counts[short.name], counts[long.name]);
  const threshold = partnerSurgeThreshold(usual, config);
  if (counts[short.name] <= threshold) return [];
  return [
    {
      rule: 'PARTNER_RATE_SURGE',
      principal,
      windowName: short.name,
      durationMs: short.durationMs,
      observed: counts[short.name],
      threshold,
      usual,
    },
  ];
}

async function findingsOf(
  observation: Observation,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Finding[]> {
  const at = observation.occurredAt;
  const actor = principalOf(observation.actor);
  switch (observation.kind) {
    case 'READ_GRANTED':
      return [
        ...readWithoutConsent(observation),
        ...(await staffReads(observation, store, config)),
        ...(await partnerRate(observation, store, config)),
      ];
    case 'CANARY_READ':
      return [instant('CANARY_READ', actor)];
    case 'READ_DENIED':
      return [
        ...(await counted(
          'DENIED_READS_SPIKE',
          actor,
          DENIED_READS_WINDOW,
          config.deniedReadsPer10m,
          at,
          store,
        )),
        ...(await partnerRate(observation, store, config)),
      ];
    case 'CONSENT_REQUESTED':
      return [
        ...(await consentRequests(observation, store, config)),
        ...(await partnerConsentToUnregistered(observation, store, config)),
        ...(await partnerRate(observation, store, config)),
      ];
    case 'OTP_REQUESTED':
      return partnerRate(observation, store, config);
    case 'OTP_QUOTA_REFUSED':
      return [
        ...(await counted(
          'OTP_REQUEST_FLOOD',
          otpClientOf(observation.actor),
          OTP_QUOTA_REFUSAL_WINDOW,
          otpFloodThreshold(observation.quotaPerMinute, config),
          at,
          store,
        )),
        ...(await partnerRate(observation, store, config)),
      ];
    case 'OTP_FAILED':
      return counted(
        'OTP_FAILURE_BURST',
        { kind: 'MOBILE', id: observation.subject.mobileIndex },
        OTP_FAILURE_WINDOW,
        config.otpFailuresPer15m,
        at,
        store,
      );
    case 'SECRET_CODE_FAILED':
    case 'SECRET_CODE_LOCKED':
      return secretCodeGuessing(observation, store, config);
    case 'STAFF_LOGIN_LOCKED':
      return [instant('STAFF_LOGIN_LOCKED', { kind: 'STAFF', id: observation.subject.staffId })];
    case 'STAFF_LOGIN_FAILED': {
      const { subject } = observation;
      const client = otpClientOf(observation.actor);
      const counts = await store.addDistinct(
        stateKey('STAFF_LOGIN_SPRAYING', client),
        subject.kind === 'STAFF' ? `staff:${subject.staffId}` : `username:${subject.usernameIndex}`,
        at,
        [STAFF_LOGIN_SPRAY_WINDOW],
      );
      return over(
        'STAFF_LOGIN_SPRAYING',
        client,
        STAFF_LOGIN_SPRAY_WINDOW,
        counts[STAFF_LOGIN_SPRAY_WINDOW.name],
        config.staffLoginFailedUsernamesPer10m,
      );
    }
  }
}

/**
 * Applies one observation to the rules' windows and returns the alerts it raises: at
 * most one per rule and principal while the rule's window lasts (an hour for rules that
 * fire on one observation), however many instances see the offence. Rules run in a
 * fixed order, so the store's keys are always taken in the same order.
 */
export async function evaluate(
  observation: Observation,
  store: WindowStore,
  config: AnomalyConfig,
): Promise<Alert[]> {
  const at = observation.occurredAt;
  const alerts: Alert[] = [];
  for (const finding of await findingsOf(observation, store, config)) {
    const claimKey = stateKey(finding.rule, finding.principal);
    if (!(await store.claimAlert(claimKey, at, finding.durationMs))) continue;
    const severity = RULE_SEVERITY[finding.rule];
    alerts.push({
      rule: finding.rule,
      severity,
      principal: finding.principal,
      window: {
        name: finding.windowName,
        startsAt: new Date(at.getTime() - finding.durationMs),
        endsAt: at,
        observed: finding.observed,
        threshold: finding.threshold,
        ...(finding.usual === undefined ? {} : { usual: finding.usual }),
      },
      response: responseFor(severity, finding.principal),
      raisedAt: at,
      raisedBy: observation.actor,
      dedupKey: `${claimKey}|${at.toISOString()}`,
    });
  }
  return alerts;
}
