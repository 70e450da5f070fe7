import type { IssuerKey, IssuerPublicJwk } from '@vaxguard/health-cards';
import type { ConsentGrant, HoldCause, RevocationCause, StaffRole } from './record-rules';
import type { VaccineCode } from './vaccines';

/**
 * The vaccination-record domain's types and ports: what a vaccinator asks to record, what
 * the register holds and the schedule rules read and return; who acts and why; what the
 * service publishes; and the ports adapters implement and tests fake (fakes.ts). Types
 * only: the rules are in record-rules.ts and schedule-rules.ts.
 */

/**
 * A calendar date, `YYYY-MM-DD`, in India Standard Time: the day the dose was given where
 * it was given. A dose has a date, not an instant (FHIR occurrenceDateTime allows a date).
 */
export type IndianDate = string;

/** The two parts of the programme: doses 1 and 2, then the one precaution dose. */
export type DoseSeries = 'PRIMARY' | 'PRECAUTION';

/** The facts of a dose that the schedule rules read. */
export interface ScheduledDose {
  readonly vaccineCode: VaccineCode;
  readonly doseNumber: number;
  readonly administeredOn: IndianDate;
}

/** A dose as a caller proposes it, before any check: codes and dates as received. */
export interface ProposedDose {
  readonly vaccineCode: string;
  readonly doseNumber: number;
  readonly administeredOn: string;
  readonly batchNumber: string;
}

/** A proposed dose that passed every schedule rule, in normal form. */
export interface CheckedDose extends ScheduledDose {
  /** Uppercase, trimmed, in the batch-number format. */
  readonly batchNumber: string;
  readonly series: DoseSeries;
}

/**
 * A request to record one dose (RecordDose). `clientRequestId` makes it idempotent: the
 * same request again returns the same record, and a different payload under the same id
 * is refused (see `sameDoseRequest`).
 */
export interface DoseRequest extends ProposedDose {
  readonly clientRequestId: string;
  readonly beneficiaryRef: string;
  readonly centreId: string;
  readonly vaccinatorRef: string;
}

/** A dose in the register. */
export interface RecordedDose extends CheckedDose {
  readonly doseId: string;
  readonly beneficiaryRef: string;
  readonly centreId: string;
  readonly vaccinatorRef: string;
  /** The id of the request that recorded it, kept to answer that request's retries. */
  readonly clientRequestId: string;
  readonly recordedAt: Date;
}

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

/** A staff member's session as an event's actor. */
export type StaffActor = Extract<EventActor, { readonly kind: 'staff' }>;

/**
 * Who reaches a record, why, and through which gRPC method: built once at the boundary
 * from the call, and named as is in every access and refusal event.
 */
export interface AccessContext<Actor extends EventActor = EventActor> {
  readonly actor: Actor;
  readonly purpose: AccessPurpose;
  readonly method: string;
}

/** A staff member's access: the session is the actor. */
export type StaffAccess = AccessContext<StaffActor>;

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
export interface IssuerKeyring extends IssuerPublicationSource {
  current(): Promise<IssuerKey>;
  byKid(kid: string): Promise<IssuerKey | undefined>;
}

/** One key as published, and what its revocation list gained since a version known. */
export interface KeyPublication {
  readonly kid: string;
  /** Its public half; given only for a key the reader did not name (keys never change). */
  readonly publicJwk: IssuerPublicJwk | undefined;
  /** Its list's counter (from 1), moved by every revocation of the key. */
  readonly crlVersion: number;
  /** The rids its list gained after the version the reader named, in list order. */
  readonly added: readonly string[];
}

/** Where the issuer's keys and revocation lists are read from, by position. */
export interface IssuerPublicationSource {
  /**
   * Every key, newest first, as of one moment, each with the rids listed after the
   * version `known` gives for it (all of them for a key it does not name).
   */
  publishedSince(known: ReadonlyMap<string, number>): Promise<readonly KeyPublication[]>;
}
