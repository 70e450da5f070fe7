import {
  deriveRid,
  issueHealthCard,
  buildImmunizationBundle,
  createOfflineVerifier,
  qrSvg,
  type OfflineVerifier,
  renderCertificateSvg,
  toNumericQr,
  type IssuerKey,
  type Jwks,
  type RevocationList,
} from '@vaxguard/health-cards';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  isVaxGuardError,
  notFound,
  permissionDenied,
  type VaxGuardError,
} from '@vaxguard/errors';
import { parseBeneficiaryRef } from '@vaxguard/pii';
import type { DoseRequest, RecordedDose } from './model';
import { sameDoseRequest } from './model';
import {
  beneficiaryFactsFresh,
  centreDisplayName,
  checkGrantCovers,
  checkNotHeld,
  checkRole,
  checkStaffGrant,
  checkStaffQuota,
  HOLD_LIFTED_BY_CORRECTION,
  holdsCertificate,
  newCertificateId,
  newDoseId,
  parseCertificateId,
  parseClientRequestId,
  parseDoseId,
  parseReason,
  parseRevocationCause,
  PARTNER_CERTIFICATE_SCOPE,
  quotaWindowStart,
  ROLE_FOR,
  type ConsentGrant,
  type HoldCause,
  type RevocationCause,
  type StaffRole,
} from './record-rules';
import { checkDose, indianDateOf, nextDoseDue, type NextDose } from './schedule-rules';
import { healthCardVaccineCoding, isCovid19Vaccine, isVaccineCode, VACCINES } from './vaccines';

// ---- Who acts ---------------------------------------------------------------------

/** A staff member's session, as its token says: the staff id, role and centre. */
export interface StaffSession {
  readonly staffId: string;
  readonly role: StaffRole;
  /** Empty for platform admins and auditors. */
  readonly centreId: string;
  /** The client application the call came through. */
  readonly clientId: string;
}

/** Who asks for a certificate: the citizen (their token) or a partner (its grant). */
export type CertificateReader =
  | {
      readonly kind: 'citizen';
      readonly mobileIndex: string;
      readonly clientId: string;
      readonly token: string;
    }
  | {
      readonly kind: 'grantee';
      readonly clientId: string;
      readonly grant: ConsentGrant;
      /** The partner's scopes at identity, from the access registry. */
      readonly partnerScopes: readonly string[];
    };

/** Who acted, as events name them. */
export type EventActor =
  | ({ readonly kind: 'staff' } & StaffSession)
  | { readonly kind: 'citizen'; readonly mobileIndex: string; readonly clientId: string }
  | { readonly kind: 'partner'; readonly partnerId: string; readonly clientId: string };

/** Why a record was reached. */
export type AccessPurpose = 'RECORD_DOSE' | 'VACCINATION' | 'CORRECTION' | 'CERTIFICATE';

// ---- What it publishes --------------------------------------------------------------

interface EventBase {
  readonly actor: EventActor;
  readonly occurredAt: Date;
  /** Empty when a refused request named no well-formed beneficiary. */
  readonly beneficiaryRef: string;
}

/** The facts the service publishes; references only. */
export type RecordEvent =
  | (EventBase & {
      readonly type: 'dose.recorded';
      readonly dose: StoredDose;
      readonly grantId: string;
    })
  | (EventBase & {
      readonly type: 'dose.corrected';
      readonly dose: StoredDose;
      readonly changedFields: readonly string[];
    })
  | (EventBase & {
      readonly type: 'certificate.issued';
      readonly certificate: CertificateRecord;
      readonly replaces: string | undefined;
    })
  | (EventBase & {
      readonly type: 'certificate.revoked';
      readonly certificate: CertificateRecord;
      readonly crlVersion: number;
      readonly cause: 'REISSUED' | 'ADMIN';
      /** The admin's cause; undefined for a certificate replaced after a correction. */
      readonly revocationCause: RevocationCause | undefined;
    })
  | (EventBase & {
      readonly type: 'certificate.held';
      readonly hold: CertificateHold;
    })
  | (EventBase & {
      readonly type: 'certificate.hold_lifted';
      readonly hold: CertificateHold;
      readonly lift: HoldLift;
    })
  | (EventBase & {
      readonly type: 'record.accessed';
      readonly method: string;
      readonly purpose: AccessPurpose;
      readonly grantId: string | undefined;
    })
  | (EventBase & {
      readonly type: 'record.access_denied';
      readonly method: string;
      readonly purpose: AccessPurpose;
      readonly reason: string;
    });

// ---- Ports --------------------------------------------------------------------------

/** A dose as stored: the recorded dose, its version, and the year of birth the rules read. */
export interface StoredDose extends RecordedDose {
  /** 0 as recorded; each correction adds one, the earlier versions kept. */
  readonly version: number;
  /** Kept so a correction is checked by the schedule rules without asking identity. */
  readonly birthYear: number;
}

export interface DoseCorrection {
  readonly reason: string;
  readonly correctedBy: string;
  readonly correctedAt: Date;
}

export interface CertificateRecord {
  readonly certificateId: string;
  readonly beneficiaryRef: string;
  readonly kid: string;
  readonly rid: string;
  readonly issuedAt: Date;
  readonly revokedAt: Date | undefined;
}

/** A beneficiary's certificate held after a revocation for a holding cause. */
export interface CertificateHold {
  readonly beneficiaryRef: string;
  /** The certificate whose revocation placed (or last changed) the hold. */
  readonly certificateId: string;
  readonly cause: HoldCause;
  /** The platform admin who placed it. */
  readonly placedBy: string;
  readonly placedAt: Date;
}

/** How a hold ended: a platform admin lifted it, or a correction of a dose did. */
export interface HoldLift {
  readonly liftedBy: 'ADMIN' | 'CORRECTION';
  /** The staff member: the platform admin, or the centre admin who corrected. */
  readonly staffId: string;
  readonly at: Date;
  readonly reason: string;
  /** The corrected dose, when a correction lifted it. */
  readonly doseId: string | undefined;
}

/** What RecordDose reads before it decides, under its locks. */
export interface DoseReads {
  /** The dose an earlier request under the same id recorded, if any. */
  readonly earlier?: { readonly current: StoredDose; readonly original: StoredDose };
  /** The staff member's quota in the window, as quotaUsage gives it. */
  readonly quota: { readonly alreadyCounted: boolean; readonly distinct: number };
  /** The beneficiary's doses, in dose-number order. */
  readonly history: readonly StoredDose[];
  /** What identity last told this service of the beneficiary, if it has. */
  readonly known?: KnownBeneficiary;
}

/**
 * The facts of a beneficiary a dose needs, as identity gave them and when: kept in this
 * service's database so that RecordDose asks identity nothing when they are fresh
 * (BENEFICIARY_FACTS_MAX_AGE_MS).
 */
export interface KnownBeneficiary {
  readonly beneficiaryRef: string;
  readonly birthYear: number;
  readonly learnedAt: Date;
}

/**
 * Locks a transaction takes as it begins, always in this order (request, quota,
 * beneficiary), so that transactions taking several never wait on each other in a ring.
 */
export interface TransactionLocks {
  /** Serialises the requests under one client request id. */
  readonly request?: string;
  /** Serialises one staff member's quota (the staff id). */
  readonly quotaOf?: string;
  /** Serialises the doses of one beneficiary. */
  readonly beneficiary?: string;
}

export interface RecordUnitOfWork {
  /**
   * Everything RecordDose reads, at once: the earlier dose under the request id, the
   * staff member's quota in the window, and the beneficiary's doses. The transaction
   * must hold the request, quota and beneficiary locks.
   */
  doseReads(query: {
    readonly clientRequestId: string;
    readonly staffId: string;
    readonly windowStart: Date;
    readonly beneficiaryRef: string;
  }): Promise<DoseReads>;
  /**
   * Serialises the doses of one beneficiary until the transaction ends, for a transaction
   * that learns the beneficiary only as it goes (TransactionLocks when it is known first).
   */
  lockBeneficiary(beneficiaryRef: string): Promise<void>;
  dosesOf(beneficiaryRef: string): Promise<StoredDose[]>;
  /** Keeps (or refreshes) what identity said of a beneficiary, for later doses. */
  rememberBeneficiary(known: KnownBeneficiary): Promise<void>;
  insertDose(dose: StoredDose): Promise<void>;
  /** The dose, locked until the transaction ends. */
  findDose(doseId: string): Promise<StoredDose | undefined>;
  /** Stores a new version of the dose; the earlier ones stay. */
  saveCorrection(dose: StoredDose, correction: DoseCorrection): Promise<void>;
  liveCertificate(beneficiaryRef: string): Promise<CertificateRecord | undefined>;
  insertCertificate(certificate: CertificateRecord): Promise<void>;
  /** Read without a lock: take the beneficiary's lock, then read it again to decide. */
  findCertificate(certificateId: string): Promise<CertificateRecord | undefined>;
  /** Marks it revoked and adds its rid to its key's list; returns the list's new counter. */
  revokeCertificate(certificate: CertificateRecord, at: Date, reason: string): Promise<number>;
  /** The counter of a key's revocation list. */
  crlVersion(kid: string): Promise<number>;
  /** The beneficiary's hold in place, if any. Read under the beneficiary's lock. */
  activeHold(beneficiaryRef: string): Promise<CertificateHold | undefined>;
  /** Places the hold, or, with one in place, gives it this cause, certificate and reason. */
  placeHold(hold: CertificateHold, reason: string): Promise<void>;
  /** Ends the beneficiary's hold in place; the hold and how it ended are kept. */
  liftHold(beneficiaryRef: string, lift: HoldLift): Promise<void>;
  /**
   * Takes the staff member's quota lock for the window: whether the beneficiary is
   * counted already, and how many distinct ones are.
   */
  quotaUsage(
    staffId: string,
    windowStart: Date,
    beneficiaryRef: string,
  ): Promise<{ readonly alreadyCounted: boolean; readonly distinct: number }>;
  countInQuota(staffId: string, windowStart: Date, beneficiaryRef: string): Promise<void>;
  publish(event: RecordEvent): Promise<void>;
}

export interface RecordStore {
  /** Runs `work` in one transaction, holding `locks` from its start. */
  transaction<T>(work: (uow: RecordUnitOfWork) => Promise<T>, locks?: TransactionLocks): Promise<T>;
  /**
   * Runs RecordDose's `work` holding `locks`, maybe in one transaction with other doses
   * that arrive at the same moment (group commit), never with one that shares a lock.
   * `work` reads through `doseReads` alone, once, before it writes; its writes are its
   * own: when it throws, they are dropped and its neighbours' are kept.
   */
  doseTransaction<T>(
    work: (uow: RecordUnitOfWork) => Promise<T>,
    locks: TransactionLocks,
  ): Promise<T>;
}

/** What identity shows of a beneficiary to the viewer whose token was relayed. */
export interface BeneficiaryFacts {
  readonly beneficiaryRef: string;
  readonly name?: string;
  readonly yearOfBirth?: number;
  readonly maskedPhotoId?: string;
}

/**
 * Identity's GetBeneficiary with a user's token relayed: undefined when identity refuses.
 * RecordDose asks it only for a beneficiary this service has no fresh facts of.
 */
export interface BeneficiaryDirectory {
  get(beneficiaryRef: string, token: string): Promise<BeneficiaryFacts | undefined>;
}

/** The names of vaccination centres, as identity announced them. */
export interface CentreDirectory {
  /** The names known of these centres, by centre id; a centre not known yet is absent. */
  names(centreIds: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

/** Verifies a consent grant given in a request body (signature, expiry, revocation, suspension). */
export interface GrantVerifier {
  verify(grant: string): Promise<ConsentGrant>;
}

/** The issuer's keys: the current one signs; all published ones verify. */
export interface IssuerKeyring {
  current(): Promise<IssuerKey>;
  byKid(kid: string): Promise<IssuerKey | undefined>;
  /** The JWKS with each key's crlVersion, and every key's revocation list. */
  published(): Promise<{
    readonly jwks: Jwks;
    readonly revocationLists: Readonly<Record<string, RevocationList>>;
  }>;
}

export interface RecordServiceOptions {
  readonly store: RecordStore;
  readonly directory: BeneficiaryDirectory;
  /** Where certificates find the name of each dose's centre. */
  readonly centres: CentreDirectory;
  readonly grants: GrantVerifier;
  readonly keys: IssuerKeyring;
  readonly clock: () => Date;
  /** The issuer URL cards carry in `iss`. */
  readonly issuer: string;
  /** The secret rids are derived with (SMART Health Cards: "Revocation"). */
  readonly ridSecret: Buffer;
  readonly staffBeneficiariesPerHour: number;
}

// ---- Results ------------------------------------------------------------------------

export interface BeneficiaryForVaccination {
  readonly beneficiary: BeneficiaryFacts;
  readonly doses: readonly StoredDose[];
  readonly nextDose: NextDose;
}

export interface Certificate {
  readonly certificateId: string;
  readonly jws: string;
  readonly qr: string;
  readonly svg: string;
  readonly kid: string;
  readonly issuedAt: Date;
}

export type Verification =
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'revoked' }
  | {
      readonly status: 'valid';
      readonly name: string;
      readonly yearOfBirth: number;
      readonly doses: readonly { readonly vaccineCode: string; readonly date: string }[];
    };

const CERTIFICATE_REFUSED = 'you may not read this beneficiary’s certificate';

function reasonOf(error: VaxGuardError): string {
  return error.reason ?? error.code;
}

/**
 * The vaccination record: doses under the schedule rules, read and written only by those
 * entitled to (a vaccinator with the beneficiary's consent, the centre admin of the
 * recording centre, the citizen, a partner with consent), every access and every refusal
 * published; certificates as SMART Health Cards.
 */
export class RecordService {
  /**
   * The verifier for the keys and lists as last published, with what they were: building
   * one imports every key and reads every list, about twice a verification's cost.
   */
  private onlineVerifier:
    { readonly published: string; readonly verifier: OfflineVerifier } | undefined;

  constructor(private readonly options: RecordServiceOptions) {}

  /** Publishes a refusal in its own transaction, then throws it. */
  private async deny(
    actor: EventActor,
    beneficiaryRef: string,
    method: string,
    purpose: AccessPurpose,
    error: VaxGuardError,
  ): Promise<never> {
    await this.options.store.transaction((uow) =>
      uow.publish({
        type: 'record.access_denied',
        actor,
        occurredAt: this.options.clock(),
        beneficiaryRef,
        method,
        purpose,
        reason: reasonOf(error),
      }),
    );
    throw error;
  }

  /** Runs a check; a refusal is published and thrown, anything else passes through. */
  private async guard<T>(
    check: () => T | Promise<T>,
    refusal: { actor: EventActor; beneficiaryRef: string; method: string; purpose: AccessPurpose },
  ): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (!isVaxGuardError(error) || error.code === 'INTERNAL' || error.code === 'UNAVAILABLE') {
        throw error;
      }
      return this.deny(
        refusal.actor,
        refusal.beneficiaryRef,
        refusal.method,
        refusal.purpose,
        error,
      );
    }
  }

  /** The staff member's grant, verified and checked against the session (and the beneficiary). */
  private async staffGrant(
    session: StaffSession,
    token: string,
    beneficiaryRef: string | undefined,
    method: string,
    purpose: AccessPurpose,
  ): Promise<ConsentGrant> {
    const refusal = {
      actor: staffActor(session),
      beneficiaryRef: beneficiaryRef ?? '',
      method,
      purpose,
    };
    return this.guard(async () => {
      if (token === '') {
        throw permissionDenied('consent_grant is required: the beneficiary’s consent grant', {
          reason: 'NO_CONSENT',
        });
      }
      const grant = await this.options.grants.verify(token);
      checkStaffGrant(grant, session, beneficiaryRef);
      return grant;
    }, refusal);
  }

  /** Identity's view of the beneficiary, through the relayed token, or a published refusal. */
  private async beneficiary(
    beneficiaryRef: string,
    token: string,
    refusal: { actor: EventActor; method: string; purpose: AccessPurpose },
  ): Promise<BeneficiaryFacts> {
    return this.guard(
      async () => {
        const facts = await this.options.directory.get(beneficiaryRef, token);
        if (!facts) {
          throw permissionDenied('identity refused this beneficiary to the caller', {
            reason: 'BENEFICIARY_ACCESS_DENIED',
          });
        }
        return facts;
      },
      { ...refusal, beneficiaryRef },
    );
  }

  /**
   * Counts the beneficiaries against the staff member's hourly quota inside `uow`;
   * returns the refusal when one new beneficiary is too many, having published it.
   */
  private async admitToQuota(
    uow: RecordUnitOfWork,
    session: StaffSession,
    beneficiaryRefs: readonly string[],
    method: string,
    purpose: AccessPurpose,
    now: Date,
  ): Promise<VaxGuardError | undefined> {
    const windowStart = quotaWindowStart(now);
    for (const beneficiaryRef of beneficiaryRefs) {
      const usage = await uow.quotaUsage(session.staffId, windowStart, beneficiaryRef);
      const refused = await this.admitOne(
        uow,
        session,
        beneficiaryRef,
        usage,
        method,
        purpose,
        now,
      );
      if (refused) return refused;
    }
    return undefined;
  }

  /**
   * Counts one beneficiary against the quota whose `usage` was read under the staff
   * member's quota lock; returns the refusal, having published it, when it is one too many.
   */
  private async admitOne(
    uow: RecordUnitOfWork,
    session: StaffSession,
    beneficiaryRef: string,
    usage: DoseReads['quota'],
    method: string,
    purpose: AccessPurpose,
    now: Date,
  ): Promise<VaxGuardError | undefined> {
    try {
      checkStaffQuota(usage, this.options.staffBeneficiariesPerHour, now);
    } catch (error) {
      if (!isVaxGuardError(error)) throw error;
      await uow.publish({
        type: 'record.access_denied',
        actor: staffActor(session),
        occurredAt: now,
        beneficiaryRef,
        method,
        purpose,
        reason: reasonOf(error),
      });
      return error;
    }
    if (!usage.alreadyCounted) {
      await uow.countInQuota(session.staffId, quotaWindowStart(now), beneficiaryRef);
    }
    return undefined;
  }

  /**
   * A vaccinator records a dose for a beneficiary whose consent grant names them. The
   * vaccinator and the centre come from the session. The same request again returns
   * the same dose; another payload under its id is refused.
   */
  async recordDose(
    session: StaffSession,
    request: Omit<DoseRequest, 'centreId' | 'vaccinatorRef'> & { readonly consentGrant: string },
    method: string,
  ): Promise<{ dose: StoredDose; replayed: boolean }> {
    const beneficiaryRef = parseBeneficiaryRef(request.beneficiaryRef);
    const actor = staffActor(session);
    const purpose = 'RECORD_DOSE';
    await this.guard(() => checkRole(session.role, ROLE_FOR.recordDose, 'record doses'), {
      actor,
      beneficiaryRef,
      method,
      purpose,
    });
    const clientRequestId = parseClientRequestId(request.clientRequestId);
    const grant = await this.staffGrant(
      session,
      request.consentGrant,
      beneficiaryRef,
      method,
      purpose,
    );
    const asked: DoseRequest = {
      clientRequestId,
      beneficiaryRef,
      vaccineCode: request.vaccineCode,
      doseNumber: request.doseNumber,
      administeredOn: request.administeredOn,
      batchNumber: request.batchNumber,
      centreId: session.centreId,
      vaccinatorRef: session.staffId,
    };
    const now = this.options.clock();
    // The locks come with the transaction's start and everything it reads in one
    // statement after them: a dose costs four round trips to the database, not thirteen.
    const locks = {
      request: clientRequestId,
      quotaOf: session.staffId,
      beneficiary: beneficiaryRef,
    };
    // The beneficiary's facts come from this service's own copy, read with the rest; only
    // when it has none fresh is identity asked (outside the transaction, holding no lock),
    // what it says kept, and the transaction run again with it.
    const record = (learned: KnownBeneficiary | undefined) =>
      this.options.store.doseTransaction(async (uow) => {
        const seen = await uow.doseReads({
          clientRequestId,
          staffId: session.staffId,
          windowStart: quotaWindowStart(now),
          beneficiaryRef,
        });
        const earlier = seen.earlier;
        if (earlier) {
          if (!sameDoseRequest(earlier.original, asked)) {
            throw alreadyExistsDifferent();
          }
          await publishAccess(uow, actor, now, beneficiaryRef, method, purpose, grant.grantId);
          return { ok: true, dose: earlier.current, replayed: true } as const;
        }
        const known =
          learned ??
          (seen.known && beneficiaryFactsFresh(seen.known.learnedAt, now) ? seen.known : undefined);
        if (!known) return { ok: false, unknown: true } as const;
        if (learned) await uow.rememberBeneficiary(learned);
        return this.recordNew(uow, session, asked, seen, known.birthYear, grant, method, now);
      }, locks);
    let outcome = await record(undefined);
    if (!outcome.ok && 'unknown' in outcome) {
      const facts = await this.beneficiary(beneficiaryRef, grant.token, { actor, method, purpose });
      if (facts.yearOfBirth === undefined) {
        throw failedPrecondition('identity shows no year of birth for this beneficiary', {
          reason: 'NO_YEAR_OF_BIRTH',
        });
      }
      outcome = await record({ beneficiaryRef, birthYear: facts.yearOfBirth, learnedAt: now });
    }
    if (!outcome.ok) {
      if ('refused' in outcome) throw outcome.refused;
      throw new Error('identity’s facts of the beneficiary were not used');
    }
    return { dose: outcome.dose, replayed: outcome.replayed };
  }

  /** A new dose, under the locks of its request, staff quota and beneficiary. */
  private async recordNew(
    uow: RecordUnitOfWork,
    session: StaffSession,
    asked: DoseRequest,
    seen: DoseReads,
    birthYear: number,
    grant: ConsentGrant,
    method: string,
    now: Date,
  ) {
    const actor = staffActor(session);
    const purpose = 'RECORD_DOSE';
    const { beneficiaryRef, clientRequestId } = asked;
    const refused = await this.admitOne(
      uow,
      session,
      beneficiaryRef,
      seen.quota,
      method,
      purpose,
      now,
    );
    if (refused) return { ok: false, refused } as const;
    const checked = checkDose(seen.history, asked, { today: indianDateOf(now), birthYear });
    const dose: StoredDose = {
      ...checked,
      doseId: newDoseId(),
      beneficiaryRef,
      centreId: session.centreId,
      vaccinatorRef: session.staffId,
      clientRequestId,
      recordedAt: now,
      version: 0,
      birthYear,
    };
    await uow.insertDose(dose);
    await uow.publish({
      type: 'dose.recorded',
      actor,
      occurredAt: now,
      beneficiaryRef,
      dose,
      grantId: grant.grantId,
    });
    await publishAccess(uow, actor, now, beneficiaryRef, method, purpose, grant.grantId);
    return { ok: true, dose, replayed: false } as const;
  }

  /**
   * The beneficiaries a consent grant opens to this staff member, as identity's staff
   * view shows them, with their doses and the next dose due; counted in the quota.
   */
  async findForVaccination(
    session: StaffSession,
    consentGrant: string,
    method: string,
  ): Promise<BeneficiaryForVaccination[]> {
    const actor = staffActor(session);
    const purpose = 'VACCINATION';
    await this.guard(
      () => checkRole(session.role, ROLE_FOR.findForVaccination, 'look up beneficiaries'),
      { actor, beneficiaryRef: '', method, purpose },
    );
    const grant = await this.staffGrant(session, consentGrant, undefined, method, purpose);
    const found: BeneficiaryFacts[] = [];
    for (const beneficiaryRef of grant.beneficiaryRefs) {
      const facts = await this.options.directory.get(beneficiaryRef, grant.token);
      if (facts) found.push(facts);
    }
    const now = this.options.clock();
    const refs = found.map((facts) => facts.beneficiaryRef);
    const outcome = await this.options.store.transaction(async (uow) => {
      const refused = await this.admitToQuota(uow, session, refs, method, purpose, now);
      if (refused) return { ok: false, refused } as const;
      const results: BeneficiaryForVaccination[] = [];
      for (const beneficiary of found) {
        const doses = await uow.dosesOf(beneficiary.beneficiaryRef);
        await publishAccess(
          uow,
          actor,
          now,
          beneficiary.beneficiaryRef,
          method,
          purpose,
          grant.grantId,
        );
        const birthYear = beneficiary.yearOfBirth;
        if (birthYear !== undefined) {
          // What a dose for them will need, so that RecordDose need not ask identity.
          await uow.rememberBeneficiary({
            beneficiaryRef: beneficiary.beneficiaryRef,
            birthYear,
            learnedAt: now,
          });
        }
        results.push({
          beneficiary,
          doses,
          nextDose:
            birthYear === undefined ? { complete: true } : nextDoseDue(doses, { birthYear }),
        });
      }
      return { ok: true, results } as const;
    });
    if (!outcome.ok) throw outcome.refused;
    return outcome.results;
  }

  /**
   * The centre admin of the centre that recorded a dose corrects it: the rules are
   * checked again against the other doses, both versions are kept, and the live
   * certificate is revoked and replaced.
   */
  async correctDose(
    session: StaffSession,
    request: {
      readonly doseId: string;
      readonly vaccineCode: string;
      readonly batchNumber: string;
      readonly administeredOn: string;
      readonly reason: string;
    },
    method: string,
  ): Promise<{
    dose: StoredDose;
    reissuedCertificateId: string | undefined;
    holdLifted: boolean;
  }> {
    const actor = staffActor(session);
    const purpose = 'CORRECTION';
    const doseId = parseDoseId(request.doseId);
    const reason = parseReason(request.reason);
    await this.guard(() => checkRole(session.role, ROLE_FOR.correctDose, 'correct doses'), {
      actor,
      beneficiaryRef: '',
      method,
      purpose,
    });
    const now = this.options.clock();
    const outcome = await this.options.store.transaction(async (uow) => {
      const recorded = await uow.findDose(doseId);
      // An unknown dose and another centre's get the same answer.
      if (!recorded || recorded.centreId !== session.centreId || session.centreId === '') {
        return { refused: recorded?.beneficiaryRef ?? '' } as const;
      }
      const beneficiaryRef = recorded.beneficiaryRef;
      await uow.lockBeneficiary(beneficiaryRef);
      const others = (await uow.dosesOf(beneficiaryRef)).filter((dose) => dose.doseId !== doseId);
      const checked = checkDose(
        others,
        {
          vaccineCode: request.vaccineCode || recorded.vaccineCode,
          doseNumber: recorded.doseNumber,
          administeredOn: request.administeredOn || recorded.administeredOn,
          batchNumber: request.batchNumber || recorded.batchNumber,
        },
        { today: indianDateOf(now), birthYear: recorded.birthYear },
      );
      const changedFields = (
        [
          ['vaccine_code', checked.vaccineCode !== recorded.vaccineCode],
          ['batch_number', checked.batchNumber !== recorded.batchNumber],
          ['administered_on', checked.administeredOn !== recorded.administeredOn],
        ] as const
      )
        .filter(([, changed]) => changed)
        .map(([field]) => field);
      if (changedFields.length === 0) {
        throw invalidArgument('the correction changes nothing: give at least one corrected field', {
          reason: 'NOTHING_TO_CORRECT',
        });
      }
      const dose: StoredDose = { ...recorded, ...checked, version: recorded.version + 1 };
      await uow.saveCorrection(dose, { reason, correctedBy: session.staffId, correctedAt: now });
      await uow.publish({
        type: 'dose.corrected',
        actor,
        occurredAt: now,
        beneficiaryRef,
        dose,
        changedFields,
      });
      await publishAccess(uow, actor, now, beneficiaryRef, method, purpose, undefined);
      const hold = await uow.activeHold(beneficiaryRef);
      const holdLifted = hold !== undefined && HOLD_LIFTED_BY_CORRECTION[hold.cause];
      if (hold && holdLifted) {
        await liftHold(uow, actor, hold, {
          liftedBy: 'CORRECTION',
          staffId: session.staffId,
          at: now,
          reason,
          doseId,
        });
      }
      // A hold revoked the live certificate: there is none to replace while one was in place.
      const live = await uow.liveCertificate(beneficiaryRef);
      if (!live) return { dose, reissuedCertificateId: undefined, holdLifted } as const;
      const crlVersion = await uow.revokeCertificate(live, now, reason);
      await uow.publish({
        type: 'certificate.revoked',
        actor,
        occurredAt: now,
        beneficiaryRef,
        certificate: live,
        crlVersion,
        cause: 'REISSUED',
        revocationCause: undefined,
      });
      const replacement = await this.newCertificate(
        uow,
        beneficiaryRef,
        now,
        actor,
        live.certificateId,
      );
      return { dose, reissuedCertificateId: replacement.certificateId, holdLifted } as const;
    });
    if ('refused' in outcome) {
      return this.deny(
        actor,
        outcome.refused ?? '',
        method,
        purpose,
        permissionDenied('only the centre that recorded a dose may correct it', {
          reason: 'WRONG_CENTRE',
        }),
      );
    }
    return outcome;
  }

  private async newCertificate(
    uow: RecordUnitOfWork,
    beneficiaryRef: string,
    now: Date,
    actor: EventActor,
    replaces: string | undefined,
  ): Promise<CertificateRecord> {
    const key = await this.options.keys.current();
    const certificateId = newCertificateId();
    const certificate: CertificateRecord = {
      certificateId,
      beneficiaryRef,
      kid: key.kid,
      rid: deriveRid({ secret: this.options.ridSecret, kid: key.kid, internalId: certificateId }),
      issuedAt: now,
      revokedAt: undefined,
    };
    await uow.insertCertificate(certificate);
    await uow.publish({
      type: 'certificate.issued',
      actor,
      occurredAt: now,
      beneficiaryRef,
      certificate,
      replaces,
    });
    return certificate;
  }

  /**
   * The beneficiary's certificate, a SMART Health Card, for the citizen who owns the
   * record or a partner whose consent grant covers it and whose scopes show the name and
   * year of birth. One live certificate per beneficiary; each call signs the current doses.
   */
  async getCertificate(
    reader: CertificateReader,
    ref: string,
    method: string,
  ): Promise<Certificate> {
    const beneficiaryRef = parseBeneficiaryRef(ref);
    const purpose = 'CERTIFICATE';
    const actor: EventActor =
      reader.kind === 'citizen'
        ? { kind: 'citizen', mobileIndex: reader.mobileIndex, clientId: reader.clientId }
        : { kind: 'partner', partnerId: reader.grant.granteeId, clientId: reader.clientId };
    const refusal = { actor, beneficiaryRef, method, purpose } as const;
    let token: string;
    if (reader.kind === 'citizen') {
      token = reader.token;
    } else {
      await this.guard(() => {
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
      }, refusal);
      token = reader.grant.token;
    }
    const facts = await this.beneficiary(beneficiaryRef, token, refusal);
    const { name, yearOfBirth } = facts;
    if (name === undefined || yearOfBirth === undefined) {
      return this.deny(
        actor,
        beneficiaryRef,
        method,
        purpose,
        permissionDenied('the caller’s view of this beneficiary shows no name and year of birth', {
          reason: 'INSUFFICIENT_SCOPE',
        }),
      );
    }
    const now = this.options.clock();
    const { certificate, doses } = await this.options.store.transaction(
      async (uow) => {
        // Under the beneficiary's lock, which a revocation placing a hold takes too: a
        // card is signed either before the hold (and its rid is then revoked with it) or
        // not at all.
        checkNotHeld((await uow.activeHold(beneficiaryRef)) !== undefined);
        const doses = await uow.dosesOf(beneficiaryRef);
        if (doses.length === 0) {
          throw failedPrecondition('a certificate needs at least one recorded dose', {
            reason: 'NO_DOSES',
          });
        }
        await publishAccess(
          uow,
          actor,
          now,
          beneficiaryRef,
          method,
          purpose,
          reader.kind === 'grantee' ? reader.grant.grantId : undefined,
        );
        const certificate =
          (await uow.liveCertificate(beneficiaryRef)) ??
          (await this.newCertificate(uow, beneficiaryRef, now, actor, undefined));
        return { certificate, doses };
      },
      { beneficiary: beneficiaryRef },
    );
    const key =
      (await this.options.keys.byKid(certificate.kid)) ?? (await this.options.keys.current());
    const sorted = [...doses].sort((a, b) => a.doseNumber - b.doseNumber);
    const centreNames = await this.options.centres.names(sorted.map((dose) => dose.centreId));
    const centreName = (centreId: string) => centreDisplayName(centreNames.get(centreId));
    const jws = issueHealthCard({
      issuer: this.options.issuer,
      key,
      issuedAt: now,
      rid: certificate.rid,
      covid19: sorted.some((dose) => isCovid19Vaccine(VACCINES[dose.vaccineCode])),
      bundle: buildImmunizationBundle({
        patient: { givenNames: [name], birthYear: yearOfBirth },
        immunizations: sorted.map((dose) => ({
          vaccineCodings: [healthCardVaccineCoding(dose.vaccineCode)],
          occurrenceDate: dose.administeredOn,
          lotNumber: dose.batchNumber,
          performerName: centreName(dose.centreId),
        })),
      }),
    });
    const svg = renderCertificateSvg({
      name,
      birthYear: yearOfBirth,
      maskedId: facts.maskedPhotoId ?? '',
      beneficiaryRef,
      certificateId: certificate.certificateId,
      doses: sorted.map((dose) => ({
        doseNumber: dose.doseNumber,
        vaccineName: VACCINES[dose.vaccineCode].displayName,
        date: dose.administeredOn,
        lotNumber: dose.batchNumber,
        centreName: centreName(dose.centreId),
      })),
      qrSvg: await qrSvg(jws),
    });
    return {
      certificateId: certificate.certificateId,
      jws,
      qr: toNumericQr(jws),
      svg,
      kid: key.kid,
      issuedAt: now,
    };
  }

  /**
   * A platform admin revokes a certificate for a cause: its rid joins its key's revocation
   * list. A leaked card is replaced at the next GetCertificate; a fraudulent or mistaken
   * record holds the beneficiary's certificate (their live one, if another, revoked too)
   * until a correction or an admin lifts it. Under the beneficiary's lock, the one
   * GetCertificate signs under, so no card is issued as the hold is placed.
   */
  async revokeCertificate(
    session: StaffSession,
    request: {
      readonly certificateId: string;
      readonly reason: string;
      readonly cause: RevocationCause | undefined;
    },
    method: string,
  ): Promise<{ kid: string; crlVersion: number; held: boolean }> {
    const actor = staffActor(session);
    const certificateId = parseCertificateId(request.certificateId);
    const reason = parseReason(request.reason);
    const cause = parseRevocationCause(request.cause);
    await this.guard(
      () => checkRole(session.role, ROLE_FOR.revokeCertificate, 'revoke certificates'),
      { actor, beneficiaryRef: '', method, purpose: 'CERTIFICATE' },
    );
    const now = this.options.clock();
    return this.options.store.transaction(async (uow) => {
      const certificate = await this.lockedCertificate(uow, certificateId);
      const beneficiaryRef = certificate.beneficiaryRef;
      const revoke = async (revoked: CertificateRecord) => {
        const crlVersion = await uow.revokeCertificate(revoked, now, reason);
        await uow.publish({
          type: 'certificate.revoked',
          actor,
          occurredAt: now,
          beneficiaryRef,
          certificate: revoked,
          crlVersion,
          cause: 'ADMIN',
          revocationCause: cause,
        });
        return crlVersion;
      };
      if (!holdsCertificate(cause)) {
        if (certificate.revokedAt) {
          throw failedPrecondition('this certificate is revoked already', {
            reason: 'ALREADY_REVOKED',
          });
        }
        return { kid: certificate.kid, crlVersion: await revoke(certificate), held: false };
      }
      const crlVersion = certificate.revokedAt
        ? await uow.crlVersion(certificate.kid)
        : await revoke(certificate);
      // A certificate revoked earlier may have been replaced: the hold takes the live one too.
      const live = await uow.liveCertificate(beneficiaryRef);
      if (live) await revoke(live);
      const hold: CertificateHold = {
        beneficiaryRef,
        certificateId,
        cause,
        placedBy: session.staffId,
        placedAt: now,
      };
      const inPlace = await uow.activeHold(beneficiaryRef);
      if (inPlace?.cause !== cause) {
        await uow.placeHold(hold, reason);
        await uow.publish({
          type: 'certificate.held',
          actor,
          occurredAt: now,
          beneficiaryRef,
          hold,
        });
      }
      return { kid: certificate.kid, crlVersion, held: true };
    });
  }

  /**
   * A platform admin lifts the hold on the beneficiary of a certificate; their next
   * GetCertificate issues a new card. With no hold in place nothing changes.
   */
  async liftCertificateHold(
    session: StaffSession,
    request: { readonly certificateId: string; readonly reason: string },
    method: string,
  ): Promise<{ lifted: boolean }> {
    const actor = staffActor(session);
    const certificateId = parseCertificateId(request.certificateId);
    const reason = parseReason(request.reason);
    await this.guard(
      () => checkRole(session.role, ROLE_FOR.liftCertificateHold, 'lift certificate holds'),
      { actor, beneficiaryRef: '', method, purpose: 'CERTIFICATE' },
    );
    const now = this.options.clock();
    return this.options.store.transaction(async (uow) => {
      const { beneficiaryRef } = await this.lockedCertificate(uow, certificateId);
      const hold = await uow.activeHold(beneficiaryRef);
      if (!hold) return { lifted: false };
      await liftHold(uow, actor, hold, {
        liftedBy: 'ADMIN',
        staffId: session.staffId,
        at: now,
        reason,
        doseId: undefined,
      });
      return { lifted: true };
    });
  }

  /**
   * The certificate, read again once its beneficiary's lock is held (the lock comes
   * before any row lock, in the order every other transaction of a beneficiary takes).
   */
  private async lockedCertificate(
    uow: RecordUnitOfWork,
    certificateId: string,
  ): Promise<CertificateRecord> {
    const found = await uow.findCertificate(certificateId);
    if (!found) throw notFound('no certificate has this id', { reason: 'NO_CERTIFICATE' });
    await uow.lockBeneficiary(found.beneficiaryRef);
    return (await uow.findCertificate(certificateId)) ?? found;
  }

  /** The published keys, each with its revocation list's counter. */
  async issuerKeys(): Promise<Jwks> {
    return (await this.options.keys.published()).jwks;
  }

  async revocationList(kid: string): Promise<RevocationList> {
    const lists = (await this.options.keys.published()).revocationLists;
    // Own keys only: `toString` is not a kid.
    const list = Object.hasOwn(lists, kid) ? lists[kid] : undefined;
    if (!list) throw notFound('no issuer key has this kid', { reason: 'UNKNOWN_KID' });
    return list;
  }

  /**
   * Online verification with the same offline verifier partners embed, against this
   * issuer's keys and lists as they stand: valid with the minimum (name, year of birth,
   * doses), revoked, or invalid and why.
   */
  async verify(input: string): Promise<Verification> {
    const { jwks, revocationLists } = await this.options.keys.published();
    // Keys are never edited, and every revocation moves its list's counter: the kids
    // and counters say whether what is published changed since the verifier was built.
    const published = JSON.stringify([
      jwks.keys.map((key) => key.kid),
      Object.entries(revocationLists).map(([kid, list]) => [kid, list.ctr]),
    ]);
    if (this.onlineVerifier?.published !== published) {
      const verifier = createOfflineVerifier({
        issuers: [{ iss: this.options.issuer, jwks, revocations: revocationLists }],
        now: this.options.clock,
      });
      this.onlineVerifier = { published, verifier };
    }
    const result = this.onlineVerifier.verifier.verify(input);
    if (result.status === 'invalid') return { status: 'invalid', reason: result.reason };
    if (result.status === 'revoked') return { status: 'revoked' };
    return {
      status: 'valid',
      name: result.patient.name,
      yearOfBirth: result.patient.birthYear,
      doses: result.immunizations.map((immunization) => ({
        vaccineCode: vaccineCodeOfCodings(immunization.vaccineCodings),
        date: immunization.occurrenceDate,
      })),
    };
  }
}

function staffActor(session: StaffSession): EventActor {
  return { kind: 'staff', ...session };
}

function publishAccess(
  uow: RecordUnitOfWork,
  actor: EventActor,
  occurredAt: Date,
  beneficiaryRef: string,
  method: string,
  purpose: AccessPurpose,
  grantId: string | undefined,
): Promise<void> {
  return uow.publish({
    type: 'record.accessed',
    actor,
    occurredAt,
    beneficiaryRef,
    method,
    purpose,
    grantId,
  });
}

/** Ends the beneficiary's hold and publishes who lifted it and how. */
async function liftHold(
  uow: RecordUnitOfWork,
  actor: EventActor,
  hold: CertificateHold,
  lift: HoldLift,
): Promise<void> {
  await uow.liftHold(hold.beneficiaryRef, lift);
  await uow.publish({
    type: 'certificate.hold_lifted',
    actor,
    occurredAt: lift.at,
    beneficiaryRef: hold.beneficiaryRef,
    hold,
    lift,
  });
}

/** Idempotency: one client request id records one dose, whatever is sent under it later. */
function alreadyExistsDifferent(): VaxGuardError {
  return alreadyExists(
    'client_request_id was used for another dose: one request id records one dose, with one payload',
    { reason: 'REQUEST_ID_REUSED' },
  );
}

/** Our vaccine code for a card's CVX coding; the coding itself when it is not ours. */
function vaccineCodeOfCodings(codings: readonly { system: string; code: string }[]): string {
  for (const coding of codings) {
    for (const code of Object.keys(VACCINES)) {
      if (!isVaccineCode(code)) continue;
      const cvx = healthCardVaccineCoding(code);
      if (cvx.system === coding.system && cvx.code === coding.code) return code;
    }
  }
  const first = codings[0];
  return first ? `${first.system}|${first.code}` : '';
}
