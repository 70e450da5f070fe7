import type { Mobile } from '@vaxguard/pii';
import type { ConsentClaim, StaffRole, TokenClaims, TokenPurpose } from '@vaxguard/tokens';

/**
 * The OTP domain's types and the ports it needs. Adapters (PostgreSQL, SMS, JOSE,
 * gRPC) implement or call these; nothing here knows about transport or storage.
 */

export type OtpPurpose = TokenPurpose;
export type Consent = ConsentClaim;
export type Clock = () => Date;

/** Who a STAFF_LOGIN transaction signs in, as identity checked them. */
export interface StaffSignIn {
  readonly staffId: string;
  readonly role: StaffRole;
  /** Empty for platform admins and auditors. */
  readonly centreId: string;
}

/** The calling client application, as authenticated by the server. */
export interface Caller {
  readonly clientId: string;
}

/** One OTP transaction: a mobile, a purpose and the code most recently sent. */
export interface OtpTransaction {
  readonly txnId: string;
  /** The client that started it: the only one that may resend or confirm it. */
  readonly clientId: string;
  readonly mobile: Mobile;
  readonly mobileIndex: string;
  readonly purpose: OtpPurpose;
  readonly consent: Consent | undefined;
  readonly staff: StaffSignIn | undefined;
  /** Keyed hash of the latest code; the code itself is never stored. */
  readonly codeHash: Buffer;
  readonly createdAt: Date;
  readonly lastSentAt: Date;
  /** When the latest code expires. */
  readonly expiresAt: Date;
  readonly sendCount: number;
  /** Wrong codes submitted so far; resends do not reset it. */
  readonly failedAttempts: number;
  readonly confirmedAt: Date | undefined;
}

/** What the service knows of a mobile's failures. */
export interface MobileGuard {
  readonly consecutiveFailures: number;
  readonly lockedUntil: Date | undefined;
}

/** A token as recorded for revocation and key retirement. */
export interface IssuedToken {
  readonly tokenId: string;
  readonly clientId: string;
  readonly purpose: OtpPurpose;
  readonly keyId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly revokedAt: Date | undefined;
  /** Set for consent grants: whose mobile they name and what they open, so the citizen can list and withdraw them. */
  readonly grant?: GrantSubject | undefined;
}

/** What a consent grant names: the mobile's blind index (the token's subject) and its consent. */
export interface GrantSubject {
  readonly mobileIndex: string;
  readonly consent: Consent;
}

/** A consent grant in force, as the citizen whose mobile it names sees it. */
export interface ConsentGrant {
  readonly grantId: string;
  /** The client application holding the grant. */
  readonly clientId: string;
  readonly purpose: OtpPurpose;
  readonly consent: Consent;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** A signed-in citizen, as their token names them. */
export interface Citizen {
  readonly mobileIndex: string;
  /** The client application the citizen called through. */
  readonly clientId: string;
}

export type OtpFailureReason =
  'WRONG_CODE' | 'EXPIRED' | 'ATTEMPTS_EXHAUSTED' | 'ALREADY_USED' | 'MOBILE_LOCKED';

interface EventBase {
  /** The calling client (the actor). */
  readonly clientId: string;
  readonly occurredAt: Date;
}

/** The facts the OTP service publishes; the subject is a mobile's blind index or a token id. */
export type OtpEvent =
  | (EventBase & {
      readonly type: 'otp.requested';
      readonly mobileIndex: string;
      readonly txnId: string;
      readonly purpose: OtpPurpose;
      readonly sendNumber: number;
      readonly expiresAt: Date;
    })
  | (EventBase & {
      readonly type: 'otp.confirmed';
      readonly mobileIndex: string;
      readonly txnId: string;
      readonly purpose: OtpPurpose;
      readonly tokenId: string;
      readonly tokenExpiresAt: Date;
      readonly consent: Consent | undefined;
    })
  | (EventBase & {
      readonly type: 'otp.failed';
      readonly mobileIndex: string;
      readonly txnId: string;
      readonly purpose: OtpPurpose;
      readonly reason: OtpFailureReason;
      readonly attemptsLeft: number;
      readonly consecutiveFailures: number;
    })
  | (EventBase & {
      /** A send refused for its client's quota; nothing was sent. */
      readonly type: 'otp.client_quota_refused';
      readonly mobileIndex: string;
      readonly purpose: OtpPurpose;
      readonly quotaPerMinute: number;
    })
  | (EventBase & {
      readonly type: 'otp.locked';
      readonly mobileIndex: string;
      readonly consecutiveFailures: number;
      readonly lockedUntil: Date;
    })
  | (EventBase & {
      /** The citizen withdrew a grant naming their mobile; its token.revoked goes with it. */
      readonly type: 'consent.withdrawn';
      readonly mobileIndex: string;
      readonly tokenId: string;
      readonly consent: Consent;
      readonly expiresAt: Date;
    })
  | (EventBase & {
      readonly type: 'token.revoked';
      readonly tokenId: string;
      readonly expiresAt: Date;
    });

/** What a mobile's send quotas are checked against, read under the mobile's lock. */
export interface MobileQuotaState {
  readonly guard: MobileGuard;
  /** Per window asked for, in order: the `n`-th most recent send since its start, if any. */
  readonly nthMostRecent: readonly (Date | undefined)[];
}

/** A send as recorded for the quotas. */
export interface SendRecord {
  readonly txnId: string;
  readonly mobileIndex: string;
  readonly clientId: string;
  readonly sentAt: Date;
}

/**
 * The client's quota a send must fit, checked as its transaction commits: admitted when
 * the client's sends counted in buckets starting after `countedAfter` are fewer than
 * `limit`; the send is then counted in `bucket`.
 */
export interface ClientQuotaCheck {
  readonly limit: number;
  readonly countedAfter: Date;
  readonly bucket: Date;
}

/**
 * A transaction that recorded a send did not commit: the client's quota was full. Holds
 * the start of the bucket of the client's `limit`-th most recent counted send, which
 * must leave the window before the client's next send fits.
 */
export class ClientQuotaFull extends Error {
  override readonly name = 'ClientQuotaFull';
  constructor(readonly nthMostRecent: Date) {
    super("the client's send quota is full");
  }
}

/**
 * Everything done inside one database transaction: the reads and writes of a flow and
 * the events it publishes, committed together or not at all.
 */
export interface OtpUnitOfWork {
  /**
   * Serialises quota checks for this mobile across all instances until the transaction
   * ends, and reads under that hold what they need: the mobile's guard and, for each
   * window, the `n`-th most recent send to it since `since`, if there were that many.
   * Taken first: sends to one mobile are rare, so this lock is seldom contended.
   */
  holdMobileQuota(
    mobileIndex: string,
    windows: readonly { readonly since: Date; readonly n: number }[],
  ): Promise<MobileQuotaState>;
  /**
   * Records a send. Its client's quota is checked as the transaction commits, and only
   * then: one client's concurrent sends take turns (across instances) for that check and
   * the commit alone, never for a round trip to the service. A full quota makes
   * `OtpStore.transaction` reject with `ClientQuotaFull`, having committed nothing.
   */
  recordSend(send: SendRecord, clientQuota: ClientQuotaCheck): Promise<void>;
  mobileGuard(mobileIndex: string): Promise<MobileGuard>;
  /**
   * Counts one more consecutive failure; returns the new count. A streak with no failure
   * after `forgetAfter` (`failureStreakForgottenAt`) may be forgotten by the pruner.
   */
  recordFailure(mobileIndex: string, forgetAfter: Date): Promise<number>;
  /** Locks the mobile until `until` and starts the failure count afresh. */
  lockMobile(mobileIndex: string, until: Date): Promise<void>;
  clearFailures(mobileIndex: string): Promise<void>;

  insertTransaction(txn: OtpTransaction): Promise<void>;
  /** Reads a transaction and holds it until commit, so concurrent confirms take turns. */
  findTransactionForUpdate(txnId: string): Promise<OtpTransaction | undefined>;
  updateTransaction(txn: OtpTransaction): Promise<void>;

  recordIssuedToken(token: IssuedToken): Promise<void>;
  findIssuedTokenForUpdate(tokenId: string): Promise<IssuedToken | undefined>;
  markTokenRevoked(tokenId: string, at: Date): Promise<void>;
  /** The grants naming this mobile that are neither revoked nor expired at `now`, newest first. */
  grantsInForce(mobileIndex: string, now: Date): Promise<readonly ConsentGrant[]>;

  /** Writes an event to the outbox of this transaction. */
  publish(event: OtpEvent): Promise<void>;
}

export interface OtpStore {
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it
   * throws. Rejects with `ClientQuotaFull`, committing nothing, when a send it recorded
   * does not fit its client's quota.
   */
  transaction<T>(work: (uow: OtpUnitOfWork) => Promise<T>): Promise<T>;
}

/** What the SMS gateway is asked to send. */
export interface OtpMessage {
  readonly txnId: string;
  readonly mobile: Mobile;
  readonly code: string;
  readonly purpose: OtpPurpose;
  readonly expiresAt: Date;
}

/**
 * The SMS delivery port: the development sink or an operator's SMS centre (SMPP).
 * `deliver` resolves once the gateway has taken the code, or once it may have: a
 * request that went out and was never answered is not sent again (SMS submission has
 * no idempotency, so a second attempt could put two messages on the phone); the user's
 * resend covers a code that never arrives. It rejects with `DeliveryRefused` when the
 * gateway did not take the code, and with anything else when it could not be reached.
 */
export interface OtpDelivery {
  deliver(message: OtpMessage): Promise<void>;
}

/**
 * Why a gateway refused a code: `forGood` when sending it again cannot help (the centre
 * does not deliver to that number), otherwise a refusal that may pass later (throttled
 * past the time allowed, the centre out of reach). `rule` names the gateway's answer
 * for the logs (an SMPP status name), never the number or the code.
 */
export class DeliveryRefused extends Error {
  override readonly name = 'DeliveryRefused';
  constructor(
    readonly forGood: boolean,
    readonly rule: string,
  ) {
    super(`the SMS gateway refused the message (${rule})`);
  }
}

/** Signs token claims with the active key. */
export interface TokenSigner {
  sign(claims: Omit<TokenClaims, 'keyId'>): Promise<{ token: string; keyId: string }>;
}
