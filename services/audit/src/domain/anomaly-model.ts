/**
 * What the anomaly rules see and say, and the one port they need. Independent of
 * protobuf and of the event catalogue: the audit service maps each decoded event it
 * cares about to an `Observation` (by event name, see `ObservationKind`), and maps an
 * `Alert` back to whatever it publishes.
 */

// ---- Observations -------------------------------------------------------------------

/**
 * The facts the rules react to, and the catalogue events each comes from (by name; the
 * vaccination-record service's events map the same way as identity's):
 *
 * - `READ_GRANTED`: a beneficiary record was read (`access.granted`, `record.accessed`).
 * - `READ_DENIED`: a read was refused (`access.denied`, `record.access_denied`).
 * - `CANARY_READ`: a canary beneficiary was read or asked for (`access.canary`).
 * - `CONSENT_REQUESTED`: a grantee asked a person for consent (`consent.requested`),
 *   refused or not; whether it named nobody registered.
 * - `OTP_REQUESTED`: a code was sent (`otp.requested`); whether it was a consent code.
 * - `OTP_QUOTA_REFUSED`: a send was refused for its client's quota (`otp.client_quota_refused`).
 * - `OTP_FAILED`: a confirmation was refused (`otp.failed`).
 * - `SECRET_CODE_FAILED`: a wrong secret code was given for a beneficiary (`secret_code.failed`).
 * - `SECRET_CODE_LOCKED`: wrong codes locked a beneficiary's secret code (`secret_code.locked`).
 * - `STAFF_LOGIN_FAILED`: a staff sign-in was refused (`staff_login.failed`); the actor is
 *   the client application it came through.
 * - `STAFF_LOGIN_LOCKED`: wrong passwords locked a staff account's sign-in (`staff_login.locked`).
 *
 * Every other event is not an observation: the mapper drops it.
 */
export const OBSERVATION_KINDS = [
  'READ_GRANTED',
  'READ_DENIED',
  'CANARY_READ',
  'CONSENT_REQUESTED',
  'OTP_REQUESTED',
  'OTP_QUOTA_REFUSED',
  'OTP_FAILED',
  'SECRET_CODE_FAILED',
  'SECRET_CODE_LOCKED',
  'STAFF_LOGIN_FAILED',
  'STAFF_LOGIN_LOCKED',
] as const;
export type ObservationKind = (typeof OBSERVATION_KINDS)[number];

export const ACTOR_KINDS = ['STAFF', 'PARTNER_CLIENT', 'CITIZEN', 'SERVICE'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** Who acted, as the envelope says. */
export interface ObservedActor {
  readonly kind: ActorKind;
  /** A staff id, a partner client id, a citizen's mobile blind index, a service name. */
  readonly principalId: string;
  /** The client application the call came through; empty when there is none. */
  readonly clientId: string;
}

export interface BeneficiarySubject {
  readonly kind: 'BENEFICIARY';
  readonly beneficiaryRef: string;
}

/** A mobile number, only ever by its keyed blind index. */
export interface MobileSubject {
  readonly kind: 'MOBILE';
  readonly mobileIndex: string;
}

export type ObservedSubject = BeneficiarySubject | MobileSubject;

/** A staff account, by its staff id. */
export interface StaffSubject {
  readonly kind: 'STAFF';
  readonly staffId: string;
}

/** A username that names no account, only ever by identity's keyed index of it. */
export interface StaffUsernameSubject {
  readonly kind: 'STAFF_USERNAME';
  readonly usernameIndex: string;
}

/**
 * Why a read was allowed, as the reading service recorded it: the citizen's own record,
 * or a consent grant (named by its token id). `NONE` is anything else (no basis, an
 * unknown one, a consent without a grant id); the mapper never guesses a better one.
 */
export type ReadBasis =
  | { readonly kind: 'OWNER' }
  | { readonly kind: 'CONSENT'; readonly grantId: string }
  | { readonly kind: 'NONE' };

interface ObservationBase {
  readonly actor: ObservedActor;
  readonly occurredAt: Date;
}

export type Observation =
  | (ObservationBase & {
      readonly kind: 'READ_GRANTED';
      readonly subject: BeneficiarySubject;
      readonly basis: ReadBasis;
    })
  | (ObservationBase & {
      readonly kind: 'READ_DENIED';
      /** Absent when the refused request named no well-formed reference. */
      readonly subject: BeneficiarySubject | undefined;
    })
  | (ObservationBase & { readonly kind: 'CANARY_READ'; readonly subject: BeneficiarySubject })
  | (ObservationBase & {
      readonly kind: 'CONSENT_REQUESTED';
      readonly subject: ObservedSubject;
      /**
       * The request named nobody registered: a mobile with no beneficiaries (a code went
       * to it all the same, so the grantee cannot tell) or an unknown reference. Never
       * true of a refused request, which looked nobody up.
       */
      readonly toNobodyRegistered: boolean;
    })
  | (ObservationBase & {
      readonly kind: 'OTP_REQUESTED';
      readonly subject: MobileSubject;
      /** A CONSENT code, sent for a consent request identity publishes as its own event. */
      readonly forConsent: boolean;
    })
  | (ObservationBase & {
      readonly kind: 'OTP_QUOTA_REFUSED';
      readonly subject: MobileSubject;
      /** The client's quota in force when it was refused: codes a minute. */
      readonly quotaPerMinute: number;
    })
  | (ObservationBase & { readonly kind: 'OTP_FAILED'; readonly subject: MobileSubject })
  | (ObservationBase & {
      readonly kind: 'SECRET_CODE_FAILED' | 'SECRET_CODE_LOCKED';
      readonly subject: BeneficiarySubject;
    })
  | (ObservationBase & {
      readonly kind: 'STAFF_LOGIN_FAILED';
      readonly subject: StaffSubject | StaffUsernameSubject;
    })
  | (ObservationBase & { readonly kind: 'STAFF_LOGIN_LOCKED'; readonly subject: StaffSubject });

// ---- Alerts -------------------------------------------------------------------------

export const ANOMALY_RULES = [
  'STAFF_READS_PER_HOUR',
  'STAFF_READS_PER_DAY',
  'CONSENT_REQUESTS_PER_HOUR',
  'READ_WITHOUT_CONSENT',
  'CANARY_READ',
  'OTP_FAILURE_BURST',
  'OTP_REQUEST_FLOOD',
  'PARTNER_RATE_SURGE',
  'PARTNER_CONSENT_TO_UNREGISTERED',
  'DENIED_READS_SPIKE',
  'OFF_HOURS_READS',
  'SECRET_CODE_LOCKED',
  'SECRET_CODE_FAILURES_PER_HOUR',
  'SECRET_CODE_LOCKS_PER_HOUR',
  'STAFF_LOGIN_LOCKED',
  'STAFF_LOGIN_SPRAYING',
  // The audit log's own alerts (log-keeper.ts), not rules over observations: the log
  // refused to sign a tree that does not extend its last checkpoint, or a witness
  // refused it (CRITICAL); VerifyLog found stored entries differing from the tree
  // (CRITICAL); no checkpoint cosigned for five minutes (HIGH).
  'LOG_ROLLBACK',
  'LOG_TAMPERED',
  'CHECKPOINT_NOT_COSIGNED',
] as const;
export type AnomalyRuleName = (typeof ANOMALY_RULES)[number];

export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What the alert asks of identity: nothing, suspend a staff member, or lock a partner client. */
export type AutomaticResponse = 'NONE' | 'SUSPEND_STAFF' | 'LOCK_PARTNER';

/** Whom an alert is about: a principal, or a mobile (OTP failures are counted per mobile). */
export interface AlertPrincipal {
  readonly kind: ActorKind | 'MOBILE';
  /** A principal id, or the mobile's blind index. */
  readonly id: string;
}

/** The window the rule counted in, and what it found there. */
export interface AlertWindow {
  /** Such as `1h`; rules that fire on one observation use `instant`. */
  readonly name: string;
  readonly startsAt: Date;
  readonly endsAt: Date;
  /** What was counted in the window (distinct beneficiaries, failures, requests...). */
  readonly observed: number;
  /** The rule fires when `observed` is more than this. */
  readonly threshold: number;
  /** The partner surge rule only: the partner's usual count for a window this long. */
  readonly usual?: number;
}

export interface Alert {
  readonly rule: AnomalyRuleName;
  readonly severity: Severity;
  readonly principal: AlertPrincipal;
  readonly window: AlertWindow;
  readonly response: AutomaticResponse;
  /** The observation that raised it: when, by whom (for OTP failures, the client that tried). */
  readonly raisedAt: Date;
  readonly raisedBy: ObservedActor;
  /**
   * Rule, principal and the start of the alert's hold: the same offence in the same
   * window always has the same key, so a publisher may use it as an idempotency key.
   */
  readonly dedupKey: string;
}

// ---- Window state -------------------------------------------------------------------

/**
 * A sliding window of distinct members: a member counts while it was last seen less
 * than `durationMs` before the time asked about. Exact (one row per member and key,
 * holding when it was last seen), because distinct counts are what the read rules rest
 * on and the number of members per principal is bounded by the alert they trigger.
 */
export interface DistinctWindow<N extends string = string> {
  readonly name: N;
  readonly durationMs: number;
}

/**
 * A sliding window over fixed buckets: events are counted in buckets of `bucketMs`
 * aligned to the Unix epoch, and the window holds the `durationMs / bucketMs` most
 * recent buckets, the current one included. An event therefore leaves the window
 * between `durationMs - bucketMs` and `durationMs` after it happened (never later).
 * One counter per bucket instead of one row per event keeps a partner sending
 * thousands of calls a minute to a bounded number of rows and a short sum, and lets
 * concurrent instances add to a counter in place without losing an increment.
 */
export interface CountWindow<N extends string = string> {
  readonly name: N;
  readonly durationMs: number;
  /** Divides `durationMs`. */
  readonly bucketMs: number;
}

/**
 * The state of the rules, which must survive a restart and be shared by every instance
 * of the audit service. A window "as of" a time also counts anything already recorded
 * with a later time: events reach the audit service out of order across partitions.
 */
export interface WindowStore {
  /** Records that `member` was seen under `key` at `at`; returns the distinct members per window. */
  addDistinct<N extends string>(
    key: string,
    member: string,
    at: Date,
    windows: readonly DistinctWindow<N>[],
  ): Promise<Record<N, number>>;
  /** Counts one event under `key` at `at`; returns the count per window. */
  increment<N extends string>(
    key: string,
    at: Date,
    windows: readonly CountWindow<N>[],
  ): Promise<Record<N, number>>;
  /**
   * Claims the right to raise the alert `key` at `at`, held for `holdMs`: true when no
   * claim on that key is held at `at` (the caller raises the alert), false when one is
   * (the alert was raised already). Atomic across instances.
   */
  claimAlert(key: string, at: Date, holdMs: number): Promise<boolean>;
}

/** The start of the bucket of `bucketMs` holding `at`. */
export function bucketStart(at: Date, bucketMs: number): Date {
  return new Date(Math.floor(at.getTime() / bucketMs) * bucketMs);
}

/** The first bucket start a count window as of `at` still holds. */
export function countWindowStart(at: Date, window: CountWindow): Date {
  return new Date(bucketStart(at, window.bucketMs).getTime() - window.durationMs + window.bucketMs);
}

/** A member counts in a distinct window as of `at` when last seen after this instant. */
export function distinctWindowStart(at: Date, window: DistinctWindow): Date {
  return new Date(at.getTime() - window.durationMs);
}

/**
 * The port's reference semantics in memory, for unit tests (and the integration test
 * compares the PostgreSQL store with it). Not for production: nothing is shared or kept.
 */
export class MemoryWindowStore implements WindowStore {
  private readonly lastSeen = new Map<string, Map<string, number>>();
  private readonly buckets = new Map<string, Map<number, number>>();
  private readonly claims = new Map<string, number>();

  async addDistinct<N extends string>(
    key: string,
    member: string,
    at: Date,
    windows: readonly DistinctWindow<N>[],
  ): Promise<Record<N, number>> {
    const members = this.lastSeen.get(key) ?? new Map<string, number>();
    this.lastSeen.set(key, members);
    members.set(member, Math.max(members.get(member) ?? -Infinity, at.getTime()));
    const counts = {} as Record<N, number>;
    for (const window of windows) {
      const after = distinctWindowStart(at, window).getTime();
      counts[window.name] = [...members.values()].filter((seen) => seen > after).length;
    }
    return counts;
  }

  async increment<N extends string>(
    key: string,
    at: Date,
    windows: readonly CountWindow<N>[],
  ): Promise<Record<N, number>> {
    for (const bucketMs of new Set(windows.map((window) => window.bucketMs))) {
      const series = this.series(key, bucketMs);
      const start = bucketStart(at, bucketMs).getTime();
      series.set(start, (series.get(start) ?? 0) + 1);
    }
    const counts = {} as Record<N, number>;
    for (const window of windows) {
      const from = countWindowStart(at, window).getTime();
      let count = 0;
      for (const [start, n] of this.series(key, window.bucketMs)) if (start >= from) count += n;
      counts[window.name] = count;
    }
    return counts;
  }

  async claimAlert(key: string, at: Date, holdMs: number): Promise<boolean> {
    const heldUntil = this.claims.get(key);
    if (heldUntil !== undefined && heldUntil > at.getTime()) return false;
    this.claims.set(key, at.getTime() + holdMs);
    return true;
  }

  private series(key: string, bucketMs: number): Map<number, number> {
    const id = `${bucketMs}:${key}`;
    const series = this.buckets.get(id) ?? new Map<number, number>();
    this.buckets.set(id, series);
    return series;
  }
}
