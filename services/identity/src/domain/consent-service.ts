import { parseBeneficiaryRef, parseMobile, type Mobile } from '@vaxguard/pii';
import { invalidArgument, isVaxGuardError, resourceExhausted } from '@vaxguard/errors';
import {
  consentSmsQuotaOf,
  decideConsentSms,
  STAFF_CONSENT_REQUESTS_PER_MINUTE,
  STAFF_CONSENT_WINDOW_MS,
} from './identity-rules';
import type { BeneficiaryStore, EventActor, IdentityEvent } from './beneficiary-service';

/**
 * Who asks for consent: the grantee the grant will name, and the client application
 * that confirms the code and holds the grant.
 */
export type ConsentRequester = Extract<EventActor, { kind: 'grantee' }>;

export type ConsentTarget = { readonly mobile: string } | { readonly beneficiaryRef: string };

/** The OTP service as identity uses it: a CONSENT code sent for the requester's client. */
export interface ConsentCodeSender {
  send(request: {
    readonly mobile: Mobile;
    readonly beneficiaryRefs: readonly string[];
    readonly grantee: { readonly kind: 'STAFF' | 'PARTNER_CLIENT'; readonly id: string };
    readonly ownerClientId: string;
  }): Promise<{ readonly txnId: string; readonly expiresAt: Date }>;
}

export interface ConsentServiceOptions {
  readonly store: BeneficiaryStore;
  readonly codes: ConsentCodeSender;
  readonly clock: () => Date;
  readonly indexMobile: (mobile: Mobile) => string;
  /** A transaction id for a request that cannot reach anyone (an unknown reference). */
  readonly newTxnId: () => string;
  /** How long a code lives: what an unreachable request pretends. */
  readonly codeLifetimeMs: number;
}

/**
 * Consent instead of lookup: a staff member or partner names the person's mobile (or a
 * beneficiary reference the person gives), and the OTP service sends that mobile a
 * CONSENT code for the beneficiaries identity finds on it through the blind index. The
 * caller learns nothing from the answer: a code is sent whether or not the mobile has
 * beneficiaries (a grant that opens none), and an unknown reference gets an answer of
 * the same shape. Each request may send an SMS to someone who asked for nothing, so
 * staff members and partners each have a cap counted before anyone is looked up; a
 * request that named nobody registered is published as such (beneficiary count 0, no
 * refusal) for the anomaly rules, never told to the caller.
 */
export class ConsentService {
  constructor(private readonly options: ConsentServiceOptions) {}

  async request(
    requester: ConsentRequester,
    target: ConsentTarget,
  ): Promise<{ txnId: string; expiresAt: Date }> {
    const now = this.options.clock();
    // A malformed request is refused before it counts against any cap.
    checkTarget(target);
    if (requester.granteeKind === 'STAFF') await this.countStaffRequest(requester, target, now);
    else await this.countPartnerRequest(requester, target, now);
    const resolved = await this.resolve(target);
    if (!resolved) {
      await this.options.store.transaction((uow) =>
        uow.publish(requested(requester, now, { kind: 'beneficiary', ref: refOf(target) })),
      );
      return {
        txnId: this.options.newTxnId(),
        expiresAt: new Date(now.getTime() + this.options.codeLifetimeMs),
      };
    }
    const { mobile, mobileIndex, refs } = resolved;
    let sent: { txnId: string; expiresAt: Date };
    try {
      sent = await this.options.codes.send({
        mobile,
        beneficiaryRefs: refs,
        grantee: { kind: requester.granteeKind, id: requester.granteeId },
        ownerClientId: requester.clientId,
      });
    } catch (error) {
      // A request the OTP service refused (its client's quota, say) was still made: the
      // anomaly rules must count it, or a bot past the quota would ask on unseen.
      if (isVaxGuardError(error)) {
        const refusal = error.reason ?? error.code;
        await this.options.store.transaction((uow) =>
          uow.publish(requested(requester, now, { kind: 'mobile', ref: mobileIndex }, { refusal })),
        );
      }
      throw error;
    }
    const subject = { kind: 'mobile', ref: mobileIndex } as const;
    await this.options.store.transaction((uow) =>
      uow.publish(
        requested(requester, now, subject, { txnId: sent.txnId, beneficiaryCount: refs.length }),
      ),
    );
    return sent;
  }

  /**
   * A staff member's requests are capped per minute before any code is sent (the portal's
   * SMS quota is every vaccinator's); one over the cap is refused, and still an event.
   */
  private async countStaffRequest(
    requester: ConsentRequester,
    target: ConsentTarget,
    now: Date,
  ): Promise<void> {
    const windowStart = new Date(now.getTime() - (now.getTime() % STAFF_CONSENT_WINDOW_MS));
    const refused = await this.options.store.transaction(async (uow) => {
      const requests = await uow.countStaffConsentRequest(requester.granteeId, windowStart);
      if (requests <= STAFF_CONSENT_REQUESTS_PER_MINUTE) return false;
      await uow.publish(
        requested(requester, now, this.subjectOf(target), { refusal: 'STAFF_CONSENT_RATE' }),
      );
      return true;
    });
    if (refused) {
      const retryAfterMs = windowStart.getTime() + STAFF_CONSENT_WINDOW_MS - now.getTime();
      throw resourceExhausted(
        `a staff member may ask at most ${STAFF_CONSENT_REQUESTS_PER_MINUTE} people for consent a minute`,
        retryAfterMs,
        { reason: 'STAFF_CONSENT_RATE' },
      );
    }
  }

  /**
   * A partner's requests are counted against its consent SMS quota (a minute and a day,
   * its registry entry's or the defaults) before anyone is looked up, so a refusal is the
   * same for any mobile; one over the quota is refused with the time to wait, and is
   * still an event. Counted in PostgreSQL on the partner's locked row: every instance
   * takes its turn, and concurrent requests never get past the quota together.
   */
  private async countPartnerRequest(
    requester: ConsentRequester,
    target: ConsentTarget,
    now: Date,
  ): Promise<void> {
    const clientId = requester.granteeId;
    const refused = await this.options.store.transaction(async (uow) => {
      const { quota, counts } = await uow.lockConsentSmsCounts(clientId);
      const decision = decideConsentSms(counts, consentSmsQuotaOf(quota), now);
      if (decision.admitted) {
        await uow.saveConsentSmsCounts(clientId, decision.counts);
        return undefined;
      }
      await uow.publish(
        requested(requester, now, this.subjectOf(target), { refusal: 'CONSENT_SMS_QUOTA' }),
      );
      return decision;
    });
    if (refused) {
      throw resourceExhausted(
        `this client may ask at most ${refused.limit} people for consent a ${refused.per}`,
        refused.retryAfterMs,
        { reason: 'CONSENT_SMS_QUOTA' },
      );
    }
  }

  /** What a refused request's event names: the mobile by its index, or the reference. */
  private subjectOf(target: ConsentTarget): ConsentRequested['subject'] {
    const mobile = 'mobile' in target ? parseMobile(target.mobile) : undefined;
    return mobile
      ? { kind: 'mobile', ref: this.options.indexMobile(mobile) }
      : { kind: 'beneficiary', ref: refOf(target) };
  }

  /** The mobile and its beneficiaries, or undefined for a reference nobody holds. */
  private async resolve(
    target: ConsentTarget,
  ): Promise<{ mobile: Mobile; mobileIndex: string; refs: string[] } | undefined> {
    if ('mobile' in target) {
      const mobile = parseMobile(target.mobile);
      const mobileIndex = this.options.indexMobile(mobile);
      const records = await this.options.store.transaction((uow) => uow.listByMobile(mobileIndex));
      return { mobile, mobileIndex, refs: records.map((record) => record.ref) };
    }
    const ref = parseBeneficiaryRef(target.beneficiaryRef);
    return this.options.store.transaction(async (uow) => {
      const mobile = await uow.mobileOf(ref);
      if (!mobile) return undefined;
      // Asked for one beneficiary, the grant opens that one only, not the others who
      // share the mobile: least privilege, and what the person is asked to consent to.
      return { mobile, mobileIndex: this.options.indexMobile(mobile), refs: [ref] };
    });
  }
}

type ConsentRequested = Extract<IdentityEvent, { type: 'consent.requested' }>;

/**
 * The event of one consent request: every request is one, sent (with its transaction and
 * how many beneficiaries the grant would open), refused (with why), or to no one.
 */
function requested(
  requester: ConsentRequester,
  occurredAt: Date,
  subject: ConsentRequested['subject'],
  outcome: { txnId?: string; beneficiaryCount?: number; refusal?: string } = {},
): ConsentRequested {
  return {
    type: 'consent.requested',
    actor: requester,
    occurredAt,
    subject,
    txnId: outcome.txnId,
    beneficiaryCount: outcome.beneficiaryCount ?? 0,
    ...(outcome.refusal ? { refusal: outcome.refusal } : {}),
  };
}

/** Refuses a request naming no one, a malformed mobile or a malformed reference. */
function checkTarget(target: ConsentTarget): void {
  if ('mobile' in target) {
    parseMobile(target.mobile);
    return;
  }
  if (!target.beneficiaryRef) {
    throw invalidArgument('RequestConsent needs a mobile or a beneficiary_ref', {
      reason: 'CONSENT_TARGET_REQUIRED',
    });
  }
  parseBeneficiaryRef(target.beneficiaryRef);
}

function refOf(target: ConsentTarget): string {
  return 'beneficiaryRef' in target ? target.beneficiaryRef : '';
}
