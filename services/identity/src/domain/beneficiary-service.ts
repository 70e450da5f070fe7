import { timingSafeEqual } from 'node:crypto';
import { alreadyExists, notFound, permissionDenied } from '@vaxguard/errors';
import {
  maskMobileForDisplay,
  maskPhotoId,
  newBeneficiaryRef,
  parseBeneficiaryRef,
  parseMobile,
  parsePhotoId,
  type Mobile,
  type PhotoId,
  type PhotoIdKind,
} from '@vaxguard/pii';
import {
  checkBeneficiaryLimit,
  checkSecretCodeFormat,
  checkYearOfBirth,
  SECRET_CODE_MAX_FAILURES,
  generateSecretCode,
  normaliseName,
  parseGender,
  type ConsentSmsCounts,
  type Gender,
} from './identity-rules';
import { viewFor, type BeneficiaryView, type Viewer as ViewRole } from './views';

/**
 * Beneficiaries: registration by the citizen who owns the mobile, and reads by that
 * citizen or by a grantee holding a consent grant for the one record. Nothing here
 * looks a person up by mobile or identity number for anyone else; every read and every
 * refusal is an event.
 */

export type { BeneficiaryView, Gender, PhotoIdKind };

/** A beneficiary as stored: identity and mobile numbers only as masks (the vault holds them sealed). */
export interface BeneficiaryRecord {
  readonly ref: string;
  readonly mobileIndex: string;
  readonly maskedMobile: string;
  readonly name: string;
  readonly gender: Gender;
  readonly yearOfBirth: number;
  readonly photoIdKind: PhotoIdKind;
  readonly maskedPhotoId: string;
  readonly canary: boolean;
}

/** What registration writes: the record, and the raw values the store seals. */
export interface NewBeneficiary extends BeneficiaryRecord {
  readonly mobile: Mobile;
  readonly photoId: PhotoId;
  readonly photoIdIndex: string;
  readonly secretCodeHash: Buffer;
  readonly createdAt: Date;
}

/** Who is reading: the role the views know, with who exactly and through which client. */
export type Viewer =
  | (Extract<ViewRole, { kind: 'citizen' }> & {
      readonly mobileIndex: string;
      readonly clientId: string;
    })
  | (Extract<ViewRole, { kind: 'grantee' }> & {
      readonly granteeId: string;
      readonly clientId: string;
      /** The beneficiaries the consent grant opens, and the grant's token id. */
      readonly grant: { readonly beneficiaryRefs: readonly string[]; readonly grantId: string };
    });

export type AccessBasis = 'OWNER' | 'CONSENT';

/** Who acted, as events name them: a citizen by mobile index, or a grantee. */
export type EventActor =
  | { readonly kind: 'citizen'; readonly mobileIndex: string; readonly clientId: string }
  | {
      readonly kind: 'grantee';
      readonly granteeKind: 'STAFF' | 'PARTNER_CLIENT';
      readonly granteeId: string;
      readonly clientId: string;
    };

interface EventBase {
  readonly actor: EventActor;
  readonly occurredAt: Date;
}

/** The facts the beneficiary flows publish; references and blind indexes only. */
export type IdentityEvent =
  | (EventBase & {
      readonly type: 'beneficiary.registered';
      readonly beneficiaryRef: string;
      readonly mobileIndex: string;
      readonly photoIdKind: PhotoIdKind;
    })
  | (EventBase & {
      readonly type: 'access.granted';
      readonly beneficiaryRef: string;
      readonly method: string;
      readonly basis: AccessBasis;
      readonly grantId: string | undefined;
    })
  | (EventBase & {
      readonly type: 'access.denied';
      readonly beneficiaryRef: string;
      readonly method: string;
      readonly reason: string;
    })
  | (EventBase & {
      readonly type: 'secret_code.failed';
      readonly beneficiaryRef: string;
      readonly failures: number;
    })
  | (EventBase & { readonly type: 'secret_code.locked'; readonly beneficiaryRef: string })
  | (EventBase & {
      readonly type: 'access.canary';
      readonly beneficiaryRef: string;
      readonly method: string;
    })
  | (EventBase & {
      readonly type: 'consent.requested';
      /** The mobile asked (by blind index), or the unknown reference given. */
      readonly subject: { readonly kind: 'mobile' | 'beneficiary'; readonly ref: string };
      readonly txnId: string | undefined;
      readonly beneficiaryCount: number;
      /** The OTP service's reason when it refused to send the code. */
      readonly refusal?: string;
    });

export interface BeneficiaryUnitOfWork {
  /** Serialises registrations on one mobile across instances until the transaction ends. */
  lockMobile(mobileIndex: string): Promise<void>;
  countOnMobile(mobileIndex: string): Promise<number>;
  /** Inserts unless the identity document is registered already. */
  insert(beneficiary: NewBeneficiary): Promise<'inserted' | 'duplicate-document'>;
  listByMobile(mobileIndex: string): Promise<BeneficiaryRecord[]>;
  find(ref: string): Promise<BeneficiaryRecord | undefined>;
  /** A beneficiary with its secret code's hash and failures, locked until the transaction ends. */
  findForSecretCode(
    ref: string,
  ): Promise<
    | (BeneficiaryRecord & { readonly secretCodeHash: Buffer; readonly secretCodeFailures: number })
    | undefined
  >;
  /** Counts a wrong secret code; returns the failures in a row so far. */
  recordSecretCodeFailure(ref: string, at: Date): Promise<number>;
  clearSecretCodeFailures(ref: string): Promise<void>;
  /** Marks a beneficiary as a canary; false when there is no such beneficiary. */
  markCanary(ref: string): Promise<boolean>;
  /**
   * Counts a consent request by a staff member in the window starting at `windowStart`;
   * returns the requests in that window so far, this one included. Older windows go.
   */
  countStaffConsentRequest(staffId: string, windowStart: Date): Promise<number>;
  /**
   * A client application's consent SMS quota as its registry entry sets it (nothing set
   * for a client identity did not register, or for a quota left at the default), and
   * what it has counted so far, its row locked until the transaction ends so that
   * concurrent requests on every instance take turns.
   */
  lockConsentSmsCounts(clientId: string): Promise<{
    readonly quota: { readonly consentSmsPerMinute?: number; readonly consentSmsPerDay?: number };
    readonly counts: ConsentSmsCounts | undefined;
  }>;
  saveConsentSmsCounts(clientId: string, counts: ConsentSmsCounts): Promise<void>;
  /** The mobile a beneficiary is registered on, opened from the vault. */
  mobileOf(ref: string): Promise<Mobile | undefined>;
  publish(event: IdentityEvent): Promise<void>;
}

export interface BeneficiaryStore {
  transaction<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T>;
  /**
   * Work whose statements each commit on their own, without a transaction around them:
   * for reads whose only writes are their access events, each written (and awaited)
   * before the answer leaves. Saves a read two of its four round trips; concurrent
   * reads' events may share one insert.
   */
  autocommit<T>(work: (uow: BeneficiaryUnitOfWork) => Promise<T>): Promise<T>;
}

/** The OTP service as the secret-code flow uses it: a grant of one beneficiary to one staff member. */
export interface SecretCodeGrants {
  issue(request: {
    readonly ownerClientId: string;
    readonly mobileIndex: string;
    readonly beneficiaryRef: string;
    readonly staffId: string;
  }): Promise<{ readonly token: string; readonly expiresAt: Date }>;
}

/** A staff member as the secret-code flow and the admin flows know them. */
export interface StaffActor {
  readonly staffId: string;
  readonly role: 'VACCINATOR' | 'CENTRE_ADMIN' | 'AUDITOR' | 'PLATFORM_ADMIN';
  readonly clientId: string;
}

export interface RegistrationInput {
  readonly mobile: string;
  readonly name: string;
  readonly gender: string | undefined;
  readonly yearOfBirth: number;
  readonly photoIdKind: PhotoIdKind | undefined;
  readonly photoIdNumber: string;
}

export interface BeneficiaryServiceOptions {
  readonly store: BeneficiaryStore;
  readonly clock: () => Date;
  /** The keyed blind indexes: the mobile's (as OTP computes it) and the document's. */
  readonly indexMobile: (mobile: Mobile) => string;
  readonly indexPhotoId: (photoId: PhotoId) => string;
  /** The keyed hash of a beneficiary's secret code. */
  readonly hashSecretCode: (ref: string, code: string) => Buffer;
  readonly newRef?: () => string;
  readonly newSecretCode?: () => string;
  /** Needed by verifySecretCode only. */
  readonly grants?: SecretCodeGrants;
}

const NOT_YOURS = 'you may not read this beneficiary';

export class BeneficiaryService {
  constructor(private readonly options: BeneficiaryServiceOptions) {}

  /** Registers a beneficiary on the citizen's own mobile; returns it and its secret code. */
  async register(
    citizen: Extract<Viewer, { kind: 'citizen' }>,
    input: RegistrationInput,
  ): Promise<{ beneficiary: BeneficiaryView; secretCode: string }> {
    const mobile = parseMobile(input.mobile);
    if (this.options.indexMobile(mobile) !== citizen.mobileIndex) {
      throw permissionDenied('mobile must be the number the citizen token was issued for', {
        reason: 'MOBILE_MISMATCH',
      });
    }
    const now = this.options.clock();
    const name = normaliseName(input.name);
    const gender = parseGender(input.gender);
    checkYearOfBirth(input.yearOfBirth, now);
    const photoId = parsePhotoId(input.photoIdKind, input.photoIdNumber);
    const ref = (this.options.newRef ?? newBeneficiaryRef)();
    const secretCode = (this.options.newSecretCode ?? (() => generateSecretCode()))();
    const beneficiary: NewBeneficiary = {
      ref,
      mobileIndex: citizen.mobileIndex,
      maskedMobile: maskMobileForDisplay(mobile),
      name,
      gender,
      yearOfBirth: input.yearOfBirth,
      photoIdKind: photoId.kind,
      maskedPhotoId: maskPhotoId(photoId),
      canary: false,
      mobile,
      photoId,
      photoIdIndex: this.options.indexPhotoId(photoId),
      secretCodeHash: this.options.hashSecretCode(ref, secretCode),
      createdAt: now,
    };
    await this.options.store.transaction(async (uow) => {
      await uow.lockMobile(citizen.mobileIndex);
      checkBeneficiaryLimit(await uow.countOnMobile(citizen.mobileIndex));
      // The same answer whoever holds the document: nothing about them is revealed.
      if ((await uow.insert(beneficiary)) === 'duplicate-document') {
        throw alreadyExists('this identity document is already registered', {
          reason: 'DOCUMENT_REGISTERED',
        });
      }
      await uow.publish({
        type: 'beneficiary.registered',
        actor: citizen,
        occurredAt: now,
        beneficiaryRef: ref,
        mobileIndex: citizen.mobileIndex,
        photoIdKind: photoId.kind,
      });
    });
    return { beneficiary: viewFor(citizen, beneficiary), secretCode };
  }

  /** The beneficiaries on the citizen's own mobile; each read is recorded. */
  async listMine(
    citizen: Extract<Viewer, { kind: 'citizen' }>,
    method: string,
  ): Promise<BeneficiaryView[]> {
    const now = this.options.clock();
    return this.options.store.autocommit(async (uow) => {
      const records = await uow.listByMobile(citizen.mobileIndex);
      for (const record of records) {
        await uow.publish({
          type: 'access.granted',
          actor: citizen,
          occurredAt: now,
          beneficiaryRef: record.ref,
          method,
          basis: 'OWNER',
          grantId: undefined,
        });
        if (record.canary) await publishCanary(uow, citizen, record.ref, method, now);
      }
      return records.map((record) => viewFor(citizen, record));
    });
  }

  /**
   * One beneficiary for its owner or a grantee of a consent for it. Anyone else, and a
   * reference that does not exist, gets the same refusal, and the attempt is recorded.
   */
  async get(viewer: Viewer, ref: string, method: string): Promise<BeneficiaryView> {
    const beneficiaryRef = parseBeneficiaryRef(ref);
    const now = this.options.clock();
    const outcome = await this.options.store.autocommit(async (uow) => {
      const record = await uow.find(beneficiaryRef);
      const basis = record ? accessBasis(viewer, record) : undefined;
      // A canary alerts on any attempt, allowed or not.
      if (record?.canary) await publishCanary(uow, viewer, beneficiaryRef, method, now);
      if (!record || !basis) {
        await uow.publish({
          type: 'access.denied',
          actor: viewer,
          occurredAt: now,
          beneficiaryRef,
          method,
          reason: viewer.kind === 'citizen' ? 'NOT_OWNER' : 'NO_CONSENT',
        });
        return undefined;
      }
      await uow.publish({
        type: 'access.granted',
        actor: viewer,
        occurredAt: now,
        beneficiaryRef,
        method,
        basis,
        grantId: viewer.kind === 'grantee' ? viewer.grant.grantId : undefined,
      });
      return viewFor(viewer, record);
    });
    if (!outcome) throw permissionDenied(NOT_YOURS, { reason: 'BENEFICIARY_ACCESS_DENIED' });
    return outcome;
  }

  /**
   * A vaccinator gives the beneficiary's secret code: a consent grant for that one
   * beneficiary to that vaccinator. Wrong codes count per beneficiary; the 5th locks the
   * code. A wrong code, a locked code and an unknown reference get the same answer, so
   * the answer tells a guesser nothing but "no".
   */
  async verifySecretCode(
    staff: StaffActor,
    ref: string,
    code: string,
    method: string,
  ): Promise<{ token: string; expiresAt: Date }> {
    if (staff.role !== 'VACCINATOR') {
      throw permissionDenied('only vaccinators take secret codes', { reason: 'NOT_VACCINATOR' });
    }
    const beneficiaryRef = parseBeneficiaryRef(ref);
    checkSecretCodeFormat(code);
    const grants = this.options.grants;
    if (!grants) throw new Error('verifySecretCode needs the grants port');
    const actor: EventActor = {
      kind: 'grantee',
      granteeKind: 'STAFF',
      granteeId: staff.staffId,
      clientId: staff.clientId,
    };
    const now = this.options.clock();
    const refused = permissionDenied(
      'the secret code was not accepted; ask the beneficiary for consent by OTP instead',
      { reason: 'SECRET_CODE_REFUSED' },
    );
    const mobileIndex = await this.options.store.transaction(async (uow) => {
      const found = await uow.findForSecretCode(beneficiaryRef);
      if (!found) return undefined;
      if (found.canary) await publishCanary(uow, actor, beneficiaryRef, method, now);
      if (found.secretCodeFailures >= SECRET_CODE_MAX_FAILURES) return undefined;
      const given = this.options.hashSecretCode(beneficiaryRef, code);
      if (!timingSafeEqual(given, found.secretCodeHash)) {
        const failures = await uow.recordSecretCodeFailure(beneficiaryRef, now);
        await uow.publish({
          type: 'secret_code.failed',
          actor,
          occurredAt: now,
          beneficiaryRef,
          failures,
        });
        if (failures >= SECRET_CODE_MAX_FAILURES) {
          await uow.publish({ type: 'secret_code.locked', actor, occurredAt: now, beneficiaryRef });
        }
        return undefined;
      }
      if (found.secretCodeFailures > 0) await uow.clearSecretCodeFailures(beneficiaryRef);
      return found.mobileIndex;
    });
    if (!mobileIndex) throw refused;
    return grants.issue({
      ownerClientId: staff.clientId,
      mobileIndex,
      beneficiaryRef,
      staffId: staff.staffId,
    });
  }

  /** Platform admins mark a beneficiary as a canary: any read of it is an alert. */
  async markCanary(admin: StaffActor, ref: string): Promise<void> {
    if (admin.role !== 'PLATFORM_ADMIN') {
      throw permissionDenied('only platform admins may do this', { reason: 'NOT_PLATFORM_ADMIN' });
    }
    const beneficiaryRef = parseBeneficiaryRef(ref);
    const marked = await this.options.store.transaction((uow) => uow.markCanary(beneficiaryRef));
    if (!marked) throw notFound('no such beneficiary', { reason: 'NO_SUCH_BENEFICIARY' });
  }
}

async function publishCanary(
  uow: BeneficiaryUnitOfWork,
  actor: EventActor,
  beneficiaryRef: string,
  method: string,
  now: Date,
): Promise<void> {
  await uow.publish({ type: 'access.canary', actor, occurredAt: now, beneficiaryRef, method });
}

/** Why a viewer may read a record, if they may. */
function accessBasis(viewer: Viewer, record: BeneficiaryRecord): AccessBasis | undefined {
  if (viewer.kind === 'citizen') {
    return record.mobileIndex === viewer.mobileIndex ? 'OWNER' : undefined;
  }
  return viewer.grant.beneficiaryRefs.includes(record.ref) ? 'CONSENT' : undefined;
}
