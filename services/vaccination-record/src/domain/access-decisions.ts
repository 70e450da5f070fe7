import { isVaxGuardError, permissionDenied, type VaxGuardError } from '@vaxguard/errors';
import type {
  AccessContext,
  BeneficiaryDirectory,
  BeneficiaryFacts,
  CertificateReader,
  DoseReads,
  EventActor,
  GrantVerifier,
  RecordStore,
  RecordUnitOfWork,
  StaffAccess,
} from './model';
import {
  checkGrantCovers,
  checkRole,
  checkStaffGrant,
  checkStaffQuota,
  PARTNER_CERTIFICATE_SCOPE,
  quotaWindowStart,
  type ConsentGrant,
  type StaffRole,
} from './record-rules';

export interface AccessDecisionsOptions {
  /** Where a refusal outside a transaction is published, in one of its own. */
  readonly store: RecordStore;
  readonly directory: BeneficiaryDirectory;
  readonly grants: GrantVerifier;
  readonly clock: () => Date;
  readonly staffBeneficiariesPerHour: number;
}

const CERTIFICATE_REFUSED = 'you may not read this beneficiary’s certificate';

function reasonOf(error: VaxGuardError): string {
  return error.reason ?? error.code;
}

/** The actor a certificate reader is in events: the citizen, or the partner of the grant. */
export function certificateReaderActor(reader: CertificateReader): EventActor {
  return reader.kind === 'citizen'
    ? { kind: 'citizen', mobileIndex: reader.mobileIndex, clientId: reader.clientId }
    : { kind: 'partner', partnerId: reader.grant.granteeId, clientId: reader.clientId };
}

/** Publishes that the record of `beneficiaryRef` was reached, inside the caller's `uow`. */
export function publishAccess(
  uow: RecordUnitOfWork,
  access: AccessContext,
  occurredAt: Date,
  beneficiaryRef: string,
  grantId: string | undefined,
): Promise<void> {
  return uow.publish({
    type: 'record.accessed',
    actor: access.actor,
    occurredAt,
    beneficiaryRef,
    method: access.method,
    purpose: access.purpose,
    grantId,
  });
}

/**
 * Who may read or write what: the role, the consent grant, identity's view of the
 * beneficiary, a partner's scopes, and the per-staff quota. Every refusal is published
 * (record.access_denied, with the access's actor, purpose and method) before it is thrown.
 */
export class AccessDecisions {
  constructor(private readonly options: AccessDecisionsOptions) {}

  /** Publishes a refusal in its own transaction, then throws it. */
  async deny(access: AccessContext, beneficiaryRef: string, error: VaxGuardError): Promise<never> {
    await this.options.store.transaction((uow) =>
      uow.publish({
        type: 'record.access_denied',
        actor: access.actor,
        occurredAt: this.options.clock(),
        beneficiaryRef,
        method: access.method,
        purpose: access.purpose,
        reason: reasonOf(error),
      }),
    );
    throw error;
  }

  /** Runs a check; a refusal is published and thrown, anything else passes through. */
  async guard<T>(
    access: AccessContext,
    beneficiaryRef: string,
    check: () => T | Promise<T>,
  ): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (!isVaxGuardError(error) || error.code === 'INTERNAL' || error.code === 'UNAVAILABLE') {
        throw error;
      }
      return this.deny(access, beneficiaryRef, error);
    }
  }

  /** The staff member's role allows the action, or the refusal is published and thrown. */
  async checkRole(
    access: StaffAccess,
    allowed: readonly StaffRole[],
    action: string,
    beneficiaryRef = '',
  ): Promise<void> {
    await this.guard(access, beneficiaryRef, () => checkRole(access.actor.role, allowed, action));
  }

  /** The staff member's grant, verified and checked against the session (and the beneficiary). */
  async staffGrant(
    access: StaffAccess,
    token: string,
    beneficiaryRef: string | undefined,
  ): Promise<ConsentGrant> {
    return this.guard(access, beneficiaryRef ?? '', async () => {
      if (token === '') {
        throw permissionDenied('consent_grant is required: the beneficiary’s consent grant', {
          reason: 'NO_CONSENT',
        });
      }
      const grant = await this.options.grants.verify(token);
      checkStaffGrant(grant, access.actor, beneficiaryRef);
      return grant;
    });
  }

  /** Identity's view of the beneficiary, through the relayed token, or a published refusal. */
  async beneficiary(
    access: AccessContext,
    beneficiaryRef: string,
    token: string,
  ): Promise<BeneficiaryFacts> {
    return this.guard(access, beneficiaryRef, async () => {
      const facts = await this.options.directory.get(beneficiaryRef, token);
      if (!facts) {
        throw permissionDenied('identity refused this beneficiary to the caller', {
          reason: 'BENEFICIARY_ACCESS_DENIED',
        });
      }
      return facts;
    });
  }

  /** The beneficiaries of a grant that identity shows through its token; the others left out. */
  async visibleBeneficiaries(grant: ConsentGrant): Promise<BeneficiaryFacts[]> {
    const found: BeneficiaryFacts[] = [];
    for (const beneficiaryRef of grant.beneficiaryRefs) {
      const facts = await this.options.directory.get(beneficiaryRef, grant.token);
      if (facts) found.push(facts);
    }
    return found;
  }

  /**
   * The token a certificate reader's view of the beneficiary is asked with: the citizen's
   * own, or the grant of a partner it names, covering the beneficiary, with the scope to
   * read certificates; anything else refused and published.
   */
  async certificateToken(
    access: AccessContext,
    reader: CertificateReader,
    beneficiaryRef: string,
  ): Promise<string> {
    if (reader.kind === 'citizen') return reader.token;
    await this.guard(access, beneficiaryRef, () => {
      if (
        reader.grant.granteeKind !== 'PARTNER_CLIENT' ||
        reader.grant.granteeId !== reader.clientId
      ) {
        throw permissionDenied(CERTIFICATE_REFUSED, { reason: 'NOT_CERTIFICATE_READER' });
      }
      checkGrantCovers(reader.grant, beneficiaryRef);
      if (!reader.partnerScopes.includes(PARTNER_CERTIFICATE_SCOPE)) {
        throw permissionDenied(
          `a partner needs the ${PARTNER_CERTIFICATE_SCOPE} scope to read certificates`,
          { reason: 'INSUFFICIENT_SCOPE' },
        );
      }
    });
    return reader.grant.token;
  }

  /**
   * Counts the beneficiaries against the staff member's hourly quota inside `uow`;
   * returns the refusal when one new beneficiary is too many, having published it.
   */
  async admitToQuota(
    uow: RecordUnitOfWork,
    access: StaffAccess,
    beneficiaryRefs: readonly string[],
    now: Date,
  ): Promise<VaxGuardError | undefined> {
    const windowStart = quotaWindowStart(now);
    for (const beneficiaryRef of beneficiaryRefs) {
      const usage = await uow.quotaUsage(access.actor.staffId, windowStart, beneficiaryRef);
      const refused = await this.admitOne(uow, access, beneficiaryRef, usage, now);
      if (refused) return refused;
    }
    return undefined;
  }

  /**
   * Counts one beneficiary against the quota whose `usage` was read under the staff
   * member's quota lock; returns the refusal, having published it, when it is one too many.
   */
  async admitOne(
    uow: RecordUnitOfWork,
    access: StaffAccess,
    beneficiaryRef: string,
    usage: DoseReads['quota'],
    now: Date,
  ): Promise<VaxGuardError | undefined> {
    try {
      checkStaffQuota(usage, this.options.staffBeneficiariesPerHour, now);
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      await uow.publish({
        type: 'record.access_denied',
        actor: access.actor,
        occurredAt: now,
        beneficiaryRef,
        method: access.method,
        purpose: access.purpose,
        reason: reasonOf(error),
      });
      return error;
    }
    if (!usage.alreadyCounted) {
      await uow.countInQuota(access.actor.staffId, quotaWindowStart(now), beneficiaryRef);
    }
    return undefined;
  }
}
