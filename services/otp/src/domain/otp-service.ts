import { randomUUID } from 'node:crypto';
import {
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
  unauthenticated,
  unavailable,
  type VaxGuardError,
} from '@vaxguard/errors';
import { isBeneficiaryRef, parseMobile, type Mobile } from '@vaxguard/pii';
import { SERVICE_SCOPES, type TokenClaims } from '@vaxguard/tokens';
import {
  ClientQuotaFull,
  DeliveryRefused,
  type Caller,
  type Citizen,
  type Clock,
  type Consent,
  type ConsentGrant,
  type OtpDelivery,
  type OtpFailureReason,
  type OtpPurpose,
  type OtpStore,
  type OtpTransaction,
  type OtpUnitOfWork,
  type StaffSignIn,
  type TokenSigner,
} from './model';
import {
  attemptsLeft,
  clientQuotaBucket,
  CLIENT_QUOTA_WINDOW_MS,
  codeExpiresAt,
  codeMatches,
  failureStreakForgottenAt,
  generateCode,
  grantInForce,
  hashCode,
  isLocked,
  isWellFormedCode,
  MAX_CONFIRM_ATTEMPTS,
  MAX_CONSENT_BENEFICIARIES,
  MAX_SENDS_PER_TXN,
  MOBILE_LOCKOUT_FAILURES,
  MOBILE_LOCKOUT_MS,
  MOBILE_SEND_QUOTAS,
  quotaRetryAfterMs,
  reachesLockout,
  resendAvailableAt,
  TOKEN_POLICY,
  txnHasOutlived,
  windowStart,
  DEFAULT_CLIENT_QUOTA_PER_MINUTE,
  type SendQuota,
} from './otp-rules';

export interface OtpServiceOptions {
  readonly store: OtpStore;
  readonly delivery: OtpDelivery;
  readonly signer: TokenSigner;
  readonly clock: Clock;
  /** HMAC key of stored codes. */
  readonly codeHashKey: Buffer;
  /** The keyed blind index of a mobile. */
  readonly indexMobile: (mobile: Mobile) => string;
  /**
   * Sends per minute allowed to the client that owns a transaction: one figure for all,
   * or each partner's own (from identity's registry), the default where it has none.
   */
  readonly clientQuotaPerMinute?: number | ((clientId: string) => number | undefined);
  /** Consecutive failures that lock a mobile; at most NIST's 100. */
  readonly lockoutFailures?: number;
  readonly lockoutMs?: number;
  readonly generateCode?: () => string;
  readonly newId?: () => string;
}

export interface GenerateOtpInput {
  readonly mobile: string;
  readonly purpose: OtpPurpose;
  readonly consent?: Consent | undefined;
  readonly staff?: StaffSignIn | undefined;
}

export interface OtpSent {
  readonly txnId: string;
  readonly expiresAt: Date;
  readonly resendAvailableAt: Date;
  readonly attemptsAllowed: number;
}

export interface ConfirmedOtp {
  readonly token: string;
  readonly claims: TokenClaims;
}

/**
 * A refusal that must still be committed (a wrong code counts, an event records it):
 * returned from the transaction and thrown once it has committed.
 */
type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: VaxGuardError };
const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const refuse = <T>(error: VaxGuardError): Outcome<T> => ({ ok: false, error });
function settle<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw outcome.error;
  return outcome.value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Grantee ids are opaque ids from identity (a staff id, a client id), never PII.
const OPAQUE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * An unknown transaction and another client's are refused alike (the same code, message
 * and reason), so a client cannot probe which transaction ids exist.
 */
const txnNotFound = () => notFound('no such OTP transaction', { reason: 'OTP_TXN_NOT_FOUND' });

/**
 * The OTP flow: generate, resend, confirm, revoke. Every rule it applies lives in
 * otp-rules.ts; every decision uses the injected clock; every change and its event
 * commit together.
 */
export class OtpService {
  private readonly lockoutFailures: number;
  private readonly lockoutMs: number;
  private readonly generateCode: () => string;
  private readonly newId: () => string;

  constructor(private readonly options: OtpServiceOptions) {
    this.lockoutFailures = options.lockoutFailures ?? MOBILE_LOCKOUT_FAILURES;
    if (this.lockoutFailures < 1 || this.lockoutFailures > MOBILE_LOCKOUT_FAILURES) {
      throw new RangeError(`lockoutFailures must be between 1 and ${MOBILE_LOCKOUT_FAILURES}`);
    }
    this.lockoutMs = options.lockoutMs ?? MOBILE_LOCKOUT_MS;
    this.generateCode = options.generateCode ?? (() => generateCode());
    this.newId = options.newId ?? randomUUID;
  }

  async generate(caller: Caller, input: GenerateOtpInput): Promise<OtpSent> {
    const mobile = parseMobile(input.mobile);
    const consent = checkConsent(caller, input.purpose, input.consent);
    const staff = checkStaff(input.purpose, input.staff);
    const mobileIndex = this.options.indexMobile(mobile);
    const txnId = this.newId();
    const code = this.generateCode();

    const txn = settle(
      await this.sendTransaction(caller.clientId, async (uow, recordSend) => {
        const now = this.options.clock();
        const refusal = await this.checkMobileAllowed(uow, mobileIndex, now);
        if (refusal) return refuse<OtpTransaction>(refusal);
        const created: OtpTransaction = {
          txnId,
          clientId: caller.clientId,
          mobile,
          mobileIndex,
          purpose: input.purpose,
          consent,
          staff,
          codeHash: hashCode(this.options.codeHashKey, txnId, code),
          createdAt: now,
          lastSentAt: now,
          expiresAt: codeExpiresAt(now, now),
          sendCount: 1,
          failedAttempts: 0,
          confirmedAt: undefined,
        };
        await uow.insertTransaction(created);
        await recordSend(created, now);
        return ok(created);
      }),
    );
    await this.deliver(txn, code);
    return {
      txnId,
      expiresAt: txn.expiresAt,
      resendAvailableAt: resendAvailableAt(txn.lastSentAt),
      attemptsAllowed: MAX_CONFIRM_ATTEMPTS,
    };
  }

  async resend(caller: Caller, txnId: string): Promise<Omit<OtpSent, 'txnId' | 'attemptsAllowed'>> {
    checkTxnId(txnId);
    const code = this.generateCode();
    const txn = settle(
      await this.sendTransaction(caller.clientId, async (uow, recordSend) => {
        const found = await uow.findTransactionForUpdate(txnId);
        if (!found || found.clientId !== caller.clientId)
          return refuse<OtpTransaction>(txnNotFound());
        const now = this.options.clock();
        // An expired code is what a resend is for; a used or dead transaction is not.
        const closed = closedReason(found);
        if (closed) return refuse<OtpTransaction>(closedError(closed));
        if (txnHasOutlived(found.createdAt, now)) {
          return refuse<OtpTransaction>(
            failedPrecondition(
              'this OTP transaction is older than 10 minutes; generate a new OTP',
              {
                reason: 'OTP_TXN_EXPIRED',
              },
            ),
          );
        }
        if (found.sendCount >= MAX_SENDS_PER_TXN) {
          return refuse<OtpTransaction>(
            failedPrecondition(
              `a transaction sends at most ${MAX_SENDS_PER_TXN} codes; generate a new OTP`,
              {
                reason: 'OTP_RESENDS_EXHAUSTED',
              },
            ),
          );
        }
        const availableAt = resendAvailableAt(found.lastSentAt);
        if (now < availableAt) {
          return refuse<OtpTransaction>(
            resourceExhausted(
              'a new code can be sent only after the cooldown',
              availableAt.getTime() - now.getTime(),
              {
                reason: 'OTP_RESEND_COOLDOWN',
              },
            ),
          );
        }
        const refusal = await this.checkMobileAllowed(uow, found.mobileIndex, now);
        if (refusal) return refuse<OtpTransaction>(refusal);
        const updated: OtpTransaction = {
          ...found,
          codeHash: hashCode(this.options.codeHashKey, txnId, code),
          lastSentAt: now,
          expiresAt: codeExpiresAt(now, found.createdAt),
          sendCount: found.sendCount + 1,
        };
        await uow.updateTransaction(updated);
        await recordSend(updated, now);
        return ok(updated);
      }),
    );
    await this.deliver(txn, code);
    return { expiresAt: txn.expiresAt, resendAvailableAt: resendAvailableAt(txn.lastSentAt) };
  }

  async confirm(caller: Caller, txnId: string, code: string): Promise<ConfirmedOtp> {
    checkTxnId(txnId);
    // Checked before anything is read: a typo costs no attempt, and the message never
    // repeats what was typed.
    if (!isWellFormedCode(code)) {
      throw invalidArgument('otp must be exactly 6 digits', { reason: 'OTP_MALFORMED' });
    }
    return settle(
      await this.options.store.transaction(async (uow): Promise<Outcome<ConfirmedOtp>> => {
        const txn = await uow.findTransactionForUpdate(txnId);
        if (!txn || txn.clientId !== caller.clientId) return refuse(txnNotFound());
        const now = this.options.clock();
        const guard = await uow.mobileGuard(txn.mobileIndex);
        const failed = (
          reason: OtpFailureReason,
          failedAttempts = txn.failedAttempts,
          consecutiveFailures = guard.consecutiveFailures,
        ) =>
          uow.publish({
            type: 'otp.failed',
            clientId: caller.clientId,
            occurredAt: now,
            mobileIndex: txn.mobileIndex,
            txnId,
            purpose: txn.purpose,
            reason,
            attemptsLeft: attemptsLeft(failedAttempts),
            consecutiveFailures,
          });

        if (isLocked(guard.lockedUntil, now)) {
          await failed('MOBILE_LOCKED');
          return refuse(lockedError(guard.lockedUntil, now));
        }
        const closed = closedReason(txn) ?? (now >= txn.expiresAt ? 'EXPIRED' : undefined);
        if (closed) {
          await failed(closed);
          return refuse(closedError(closed));
        }

        if (!codeMatches(this.options.codeHashKey, txnId, code, txn.codeHash)) {
          const counted: OtpTransaction = { ...txn, failedAttempts: txn.failedAttempts + 1 };
          await uow.updateTransaction(counted);
          const consecutiveFailures = await uow.recordFailure(
            txn.mobileIndex,
            failureStreakForgottenAt(now, this.lockoutMs),
          );
          const left = attemptsLeft(counted.failedAttempts);
          await failed('WRONG_CODE', counted.failedAttempts, consecutiveFailures);
          if (reachesLockout(consecutiveFailures, this.lockoutFailures)) {
            const lockedUntil = new Date(now.getTime() + this.lockoutMs);
            await uow.lockMobile(txn.mobileIndex, lockedUntil);
            await uow.publish({
              type: 'otp.locked',
              clientId: caller.clientId,
              occurredAt: now,
              mobileIndex: txn.mobileIndex,
              consecutiveFailures,
              lockedUntil,
            });
          }
          return refuse(
            unauthenticated(
              left > 0
                ? `wrong code; ${left} attempt${left === 1 ? '' : 's'} left`
                : 'wrong code; no attempts left, this transaction is closed',
              { reason: 'OTP_WRONG_CODE' },
            ),
          );
        }

        await uow.updateTransaction({ ...txn, confirmedAt: now });
        await uow.clearFailures(txn.mobileIndex);
        const policy = TOKEN_POLICY[txn.purpose];
        const unsigned: Omit<TokenClaims, 'keyId'> = {
          tokenId: this.newId(),
          // A staff session names the staff member; every other token, the mobile.
          subject: txn.staff ? txn.staff.staffId : txn.mobileIndex,
          audience: policy.audience,
          scopes: policy.scopes,
          issuedAt: now,
          expiresAt: new Date(now.getTime() + policy.ttlMs),
          purpose: txn.purpose,
          clientId: caller.clientId,
          ...(txn.consent ? { consent: txn.consent } : {}),
          ...(txn.staff ? { staff: { role: txn.staff.role, centreId: txn.staff.centreId } } : {}),
        };
        const { token, keyId } = await this.options.signer.sign(unsigned);
        await uow.recordIssuedToken({
          tokenId: unsigned.tokenId,
          clientId: caller.clientId,
          purpose: txn.purpose,
          keyId,
          issuedAt: now,
          expiresAt: unsigned.expiresAt,
          revokedAt: undefined,
          ...(txn.consent ? { grant: { mobileIndex: txn.mobileIndex, consent: txn.consent } } : {}),
        });
        await uow.publish({
          type: 'otp.confirmed',
          clientId: caller.clientId,
          occurredAt: now,
          mobileIndex: txn.mobileIndex,
          txnId,
          purpose: txn.purpose,
          tokenId: unsigned.tokenId,
          tokenExpiresAt: unsigned.expiresAt,
          consent: txn.consent,
        });
        return ok({ token, claims: { ...unsigned, keyId } });
      }),
    );
  }

  /** Revokes a token issued to the caller; revoking it again changes nothing. */
  /**
   * A consent grant without an OTP: identity checked the beneficiary's secret code and
   * asks for a grant opening that one beneficiary to that one staff member, for the
   * staff member's client application. Only identity holds the scope that allows it.
   */
  async issueSecretCodeGrant(
    calling: { readonly clientId: string; readonly scopes: readonly string[] },
    input: {
      readonly onBehalfOfClientId: string;
      readonly mobileIndex: string;
      readonly consent: Consent | undefined;
    },
  ): Promise<ConfirmedOtp> {
    if (!calling.scopes.includes(SERVICE_SCOPES.issueConsent)) {
      throw permissionDenied('only the identity service may issue secret-code grants', {
        reason: 'ISSUE_NOT_ALLOWED',
      });
    }
    const owner: Caller = { clientId: input.onBehalfOfClientId };
    const consent = checkConsent(owner, 'CONSENT', input.consent);
    if (consent?.grantee.kind !== 'STAFF' || consent.beneficiaryRefs.length !== 1) {
      throw invalidArgument(
        'a secret-code grant opens exactly one beneficiary to one staff member',
        {
          reason: 'INVALID_SECRET_CODE_GRANT',
        },
      );
    }
    if (!OPAQUE_ID.test(input.mobileIndex) || !OPAQUE_ID.test(owner.clientId)) {
      throw invalidArgument('mobile_index and on_behalf_of_client_id must be opaque ids', {
        reason: 'INVALID_SECRET_CODE_GRANT',
      });
    }
    const now = this.options.clock();
    const policy = TOKEN_POLICY.SECRET_CODE;
    const unsigned: Omit<TokenClaims, 'keyId'> = {
      tokenId: this.newId(),
      subject: input.mobileIndex,
      audience: policy.audience,
      scopes: policy.scopes,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + policy.ttlMs),
      purpose: 'SECRET_CODE',
      clientId: owner.clientId,
      consent,
    };
    const { token, keyId } = await this.options.signer.sign(unsigned);
    await this.options.store.transaction((uow) =>
      uow.recordIssuedToken({
        tokenId: unsigned.tokenId,
        clientId: owner.clientId,
        purpose: 'SECRET_CODE',
        keyId,
        issuedAt: now,
        expiresAt: unsigned.expiresAt,
        revokedAt: undefined,
        grant: { mobileIndex: input.mobileIndex, consent },
      }),
    );
    return { token, claims: { ...unsigned, keyId } };
  }

  /** The consent grants in force that name the citizen's mobile, newest first. */
  async listMyConsents(citizen: Citizen): Promise<readonly ConsentGrant[]> {
    const now = this.options.clock();
    return this.options.store.transaction((uow) => uow.grantsInForce(citizen.mobileIndex, now));
  }

  /**
   * Withdraws a consent grant naming the citizen's mobile: its token is revoked as
   * `revoke` revokes one (the token.revoked event every service honours), and the
   * withdrawal is recorded. Another mobile's grant is refused as an unknown one is, so
   * grant ids cannot be probed; a grant already ended (withdrawn or expired) is left as it is.
   */
  async withdrawConsent(citizen: Citizen, grantId: string): Promise<void> {
    if (!UUID.test(grantId))
      throw invalidArgument('grant_id must be a UUID', { reason: 'INVALID_GRANT_ID' });
    settle(
      await this.options.store.transaction(async (uow): Promise<Outcome<void>> => {
        const token = await uow.findIssuedTokenForUpdate(grantId);
        const grant = token?.grant;
        if (!token || !grant || grant.mobileIndex !== citizen.mobileIndex) {
          return refuse(notFound('no such consent grant', { reason: 'CONSENT_NOT_FOUND' }));
        }
        const now = this.options.clock();
        if (!grantInForce(token, now)) return ok(undefined);
        await uow.markTokenRevoked(grantId, now);
        await uow.publish({
          type: 'token.revoked',
          clientId: citizen.clientId,
          occurredAt: now,
          tokenId: grantId,
          expiresAt: token.expiresAt,
        });
        await uow.publish({
          type: 'consent.withdrawn',
          clientId: citizen.clientId,
          occurredAt: now,
          mobileIndex: citizen.mobileIndex,
          tokenId: grantId,
          consent: grant.consent,
          expiresAt: token.expiresAt,
        });
        return ok(undefined);
      }),
    );
  }

  async revoke(caller: Caller, tokenId: string): Promise<void> {
    if (!UUID.test(tokenId))
      throw invalidArgument('token_id must be a UUID', { reason: 'INVALID_TOKEN_ID' });
    settle(
      await this.options.store.transaction(async (uow): Promise<Outcome<void>> => {
        const token = await uow.findIssuedTokenForUpdate(tokenId);
        if (!token) return refuse(notFound('no such token', { reason: 'TOKEN_NOT_FOUND' }));
        if (token.clientId !== caller.clientId) {
          return refuse(
            permissionDenied('only the client a token was issued to may revoke it', {
              reason: 'NOT_TOKEN_OWNER',
            }),
          );
        }
        if (token.revokedAt) return ok(undefined);
        const now = this.options.clock();
        await uow.markTokenRevoked(tokenId, now);
        await uow.publish({
          type: 'token.revoked',
          clientId: caller.clientId,
          occurredAt: now,
          tokenId,
          expiresAt: token.expiresAt,
        });
        return ok(undefined);
      }),
    );
  }

  /**
   * The lockout and the mobile's send quotas, checked under the mobile's quota lock
   * (taken here, so always before the client's, which is taken at commit).
   */
  private async checkMobileAllowed(
    uow: OtpUnitOfWork,
    mobileIndex: string,
    now: Date,
  ): Promise<VaxGuardError | undefined> {
    const { guard, nthMostRecent } = await uow.holdMobileQuota(
      mobileIndex,
      MOBILE_SEND_QUOTAS.map((quota) => ({ since: windowStart(quota, now), n: quota.limit })),
    );
    if (isLocked(guard.lockedUntil, now)) return lockedError(guard.lockedUntil, now);
    let worst: { quota: SendQuota; retryAfterMs: number } | undefined;
    for (const [i, quota] of MOBILE_SEND_QUOTAS.entries()) {
      const retryAfterMs = quotaRetryAfterMs(quota, nthMostRecent[i], now);
      if (retryAfterMs > 0 && (!worst || retryAfterMs > worst.retryAfterMs))
        worst = { quota, retryAfterMs };
    }
    if (!worst) return undefined;
    return quotaError(worst.quota, worst.retryAfterMs);
  }

  /**
   * A transaction that sends a code, recorded with the `recordSend` it is given. The
   * client's quota is checked as it commits (see `recordSend`); a full quota rolls the
   * whole transaction back, so a refused send costs no quota and leaves nothing behind.
   * The refusal is then an event of its own (the flood rule counts them), and the caller
   * gets the quota's own error.
   */
  private async sendTransaction<T>(
    clientId: string,
    work: (
      uow: OtpUnitOfWork,
      recordSend: (txn: OtpTransaction, now: Date) => Promise<void>,
    ) => Promise<T>,
  ): Promise<T> {
    let sending: OtpTransaction | undefined;
    try {
      return await this.options.store.transaction((uow) =>
        work(uow, (txn, now) => {
          sending = txn;
          return this.recordSend(uow, txn, now);
        }),
      );
    } catch (error) {
      if (!(error instanceof ClientQuotaFull)) throw error;
      const quota = this.clientQuota(clientId);
      const now = this.options.clock();
      const refused = sending;
      if (refused) {
        await this.options.store.transaction((uow) =>
          uow.publish({
            type: 'otp.client_quota_refused',
            clientId,
            occurredAt: now,
            mobileIndex: refused.mobileIndex,
            purpose: refused.purpose,
            quotaPerMinute: quota.limit,
          }),
        );
      }
      throw quotaError(quota, quotaRetryAfterMs(quota, error.nthMostRecent, now));
    }
  }

  /**
   * Records a send and its event. The client's quota is the one check left to the commit:
   * one client's concurrent calls, on every instance, take turns only for that check and
   * the commit itself.
   */
  private async recordSend(uow: OtpUnitOfWork, txn: OtpTransaction, now: Date): Promise<void> {
    await uow.publish({
      type: 'otp.requested',
      clientId: txn.clientId,
      occurredAt: now,
      mobileIndex: txn.mobileIndex,
      txnId: txn.txnId,
      purpose: txn.purpose,
      sendNumber: txn.sendCount,
      expiresAt: txn.expiresAt,
    });
    const quota = this.clientQuota(txn.clientId);
    await uow.recordSend(
      { txnId: txn.txnId, mobileIndex: txn.mobileIndex, clientId: txn.clientId, sentAt: now },
      { limit: quota.limit, countedAfter: windowStart(quota, now), bucket: clientQuotaBucket(now) },
    );
  }

  private clientQuota(clientId: string): SendQuota {
    const configured = this.options.clientQuotaPerMinute;
    const limit = typeof configured === 'function' ? configured(clientId) : configured;
    return {
      name: 'CLIENT_QUOTA',
      windowMs: CLIENT_QUOTA_WINDOW_MS,
      limit: limit ?? DEFAULT_CLIENT_QUOTA_PER_MINUTE,
    };
  }

  private async deliver(txn: OtpTransaction, code: string): Promise<void> {
    try {
      await this.options.delivery.deliver({
        txnId: txn.txnId,
        mobile: txn.mobile,
        code,
        purpose: txn.purpose,
        expiresAt: txn.expiresAt,
      });
    } catch (error) {
      // The send was counted either way (so gateway trouble cannot be used to bypass
      // quotas). A number the centre will never deliver to is an answer, not an outage.
      if (error instanceof DeliveryRefused && error.forGood) {
        throw invalidArgument(
          'the SMS centre does not deliver to this mobile number; no code was sent',
          {
            reason: 'OTP_DESTINATION_REFUSED',
            cause: error,
          },
        );
      }
      // Nothing was sent: the caller may try again after the cooldown.
      throw unavailable('the code could not be sent right now; try ResendOtp after the cooldown', {
        reason: 'OTP_DELIVERY_FAILED',
        cause: error,
      });
    }
  }
}

function checkTxnId(txnId: string): void {
  if (!UUID.test(txnId))
    throw invalidArgument('txn_id must be a UUID', { reason: 'INVALID_TXN_ID' });
}

/** Who a STAFF_LOGIN signs in is required for it, and refused for other purposes. */
function checkStaff(purpose: OtpPurpose, staff: StaffSignIn | undefined): StaffSignIn | undefined {
  if (purpose !== 'STAFF_LOGIN') {
    if (staff) {
      throw invalidArgument('staff is only accepted for OTP_PURPOSE_STAFF_LOGIN', {
        reason: 'STAFF_NOT_ALLOWED',
      });
    }
    return undefined;
  }
  if (!staff || !OPAQUE_ID.test(staff.staffId)) {
    throw invalidArgument('OTP_PURPOSE_STAFF_LOGIN needs staff with a staff_id and a role', {
      reason: 'STAFF_REQUIRED',
    });
  }
  if (staff.centreId !== '' && !OPAQUE_ID.test(staff.centreId)) {
    throw invalidArgument('staff.centre_id must be 1-128 characters of A-Z a-z 0-9 . _ : -', {
      reason: 'INVALID_CENTRE_ID',
    });
  }
  return staff;
}

/** Consent is required for CONSENT and refused for other purposes; a partner grants only itself. */
function checkConsent(
  caller: Caller,
  purpose: OtpPurpose,
  consent: Consent | undefined,
): Consent | undefined {
  if (purpose !== 'CONSENT') {
    if (consent)
      throw invalidArgument('consent is only accepted for OTP_PURPOSE_CONSENT', {
        reason: 'CONSENT_NOT_ALLOWED',
      });
    return undefined;
  }
  if (!consent) {
    throw invalidArgument('OTP_PURPOSE_CONSENT needs consent with beneficiary_refs and grantee', {
      reason: 'CONSENT_REQUIRED',
    });
  }
  const refs = consent.beneficiaryRefs;
  if (refs.length > MAX_CONSENT_BENEFICIARIES) {
    throw invalidArgument(
      `consent.beneficiary_refs must name at most ${MAX_CONSENT_BENEFICIARIES} beneficiaries`,
      { reason: 'INVALID_CONSENT' },
    );
  }
  // Only references in their one format ride into a token: never a phone number.
  if (!refs.every(isBeneficiaryRef) || new Set(refs).size !== refs.length) {
    throw invalidArgument(
      'consent.beneficiary_refs must be distinct beneficiary references (bnf_ and 26 base32 characters)',
      { reason: 'INVALID_CONSENT' },
    );
  }
  if (!OPAQUE_ID.test(consent.grantee.id)) {
    throw invalidArgument('consent.grantee.id must be 1-128 characters of A-Z a-z 0-9 . _ : -', {
      reason: 'INVALID_CONSENT',
    });
  }
  // A partner may only ask consent for itself. Staff ids are checked by identity once
  // it exists; until then the grant names them as given.
  if (consent.grantee.kind === 'PARTNER_CLIENT' && consent.grantee.id !== caller.clientId) {
    throw permissionDenied('a partner client may only ask consent for itself', {
      reason: 'CONSENT_GRANTEE',
    });
  }
  return {
    beneficiaryRefs: [...refs],
    grantee: { kind: consent.grantee.kind, id: consent.grantee.id },
  };
}

type ClosedReason = Extract<OtpFailureReason, 'ALREADY_USED' | 'ATTEMPTS_EXHAUSTED' | 'EXPIRED'>;

/** Why a transaction is closed for good, if it is: used once, or out of attempts. */
function closedReason(txn: OtpTransaction): 'ALREADY_USED' | 'ATTEMPTS_EXHAUSTED' | undefined {
  if (txn.confirmedAt) return 'ALREADY_USED';
  if (txn.failedAttempts >= MAX_CONFIRM_ATTEMPTS) return 'ATTEMPTS_EXHAUSTED';
  return undefined;
}

function closedError(reason: ClosedReason): VaxGuardError {
  switch (reason) {
    case 'ALREADY_USED':
      return failedPrecondition('this OTP was already used', { reason: 'OTP_ALREADY_USED' });
    case 'ATTEMPTS_EXHAUSTED':
      return failedPrecondition(
        `${MAX_CONFIRM_ATTEMPTS} wrong codes were entered; this transaction is closed, generate a new OTP`,
        { reason: 'OTP_ATTEMPTS_EXHAUSTED' },
      );
    case 'EXPIRED':
      return failedPrecondition('the code has expired; resend or generate a new OTP', {
        reason: 'OTP_EXPIRED',
      });
  }
}

function lockedError(lockedUntil: Date | undefined, now: Date): VaxGuardError {
  return resourceExhausted(
    'this mobile is locked after too many wrong codes; retry later',
    (lockedUntil?.getTime() ?? now.getTime()) - now.getTime(),
    { reason: 'MOBILE_LOCKED' },
  );
}

function quotaError(quota: SendQuota, retryAfterMs: number): VaxGuardError {
  const whose = quota.name === 'CLIENT_QUOTA' ? 'this client' : 'this mobile';
  return resourceExhausted(`too many codes sent for ${whose}; retry later`, retryAfterMs, {
    reason: quota.name,
  });
}
