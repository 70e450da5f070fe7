import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  permissionDenied,
  type VaxGuardError,
} from '@vaxguard/errors';
import { parseBeneficiaryRef } from '@vaxguard/pii';
import { publishAccess, type AccessDecisions } from './access-decisions';
import type { CertificateService } from './certificate-service';
import type {
  BeneficiaryFacts,
  DoseReads,
  DoseRequest,
  KnownBeneficiary,
  RecordStore,
  RecordUnitOfWork,
  StaffAccess,
  StoredDose,
} from './model';
import {
  beneficiaryFactsFresh,
  newDoseId,
  parseClientRequestId,
  parseDoseId,
  parseReason,
  quotaWindowStart,
  ROLE_FOR,
  type ConsentGrant,
} from './record-rules';
import {
  checkDose,
  indianDateOf,
  nextDoseDue,
  sameDoseRequest,
  type NextDose,
} from './schedule-rules';

export interface DoseServiceOptions {
  readonly store: RecordStore;
  readonly access: AccessDecisions;
  /** What a correction does to the beneficiary's certificate. */
  readonly certificates: Pick<CertificateService, 'afterCorrection'>;
  readonly clock: () => Date;
}

export interface BeneficiaryForVaccination {
  readonly beneficiary: BeneficiaryFacts;
  readonly doses: readonly StoredDose[];
  readonly nextDose: NextDose;
}

/**
 * Doses under the schedule rules: recorded by a vaccinator with the beneficiary's
 * consent, looked up for vaccination, corrected by the centre admin of the recording
 * centre; every access and every refusal published.
 */
export class DoseService {
  constructor(private readonly options: DoseServiceOptions) {}

  /**
   * A vaccinator records a dose for a beneficiary whose consent grant names them. The
   * vaccinator and the centre come from the session. The same request again returns
   * the same dose; another payload under its id is refused.
   */
  async recordDose(
    access: StaffAccess,
    request: Omit<DoseRequest, 'centreId' | 'vaccinatorRef'> & { readonly consentGrant: string },
  ): Promise<{ dose: StoredDose; replayed: boolean }> {
    const session = access.actor;
    const beneficiaryRef = parseBeneficiaryRef(request.beneficiaryRef);
    await this.options.access.checkRole(
      access,
      ROLE_FOR.recordDose,
      'record doses',
      beneficiaryRef,
    );
    const clientRequestId = parseClientRequestId(request.clientRequestId);
    const grant = await this.options.access.staffGrant(
      access,
      request.consentGrant,
      beneficiaryRef,
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
          await publishAccess(uow, access, now, beneficiaryRef, grant.grantId);
          return { ok: true, dose: earlier.current, replayed: true } as const;
        }
        const known =
          learned ??
          (seen.known && beneficiaryFactsFresh(seen.known.learnedAt, now) ? seen.known : undefined);
        if (!known) return { ok: false, unknown: true } as const;
        if (learned) await uow.rememberBeneficiary(learned);
        return this.recordNew(uow, access, asked, seen, known.birthYear, grant, now);
      }, locks);
    let outcome = await record(undefined);
    if (!outcome.ok && 'unknown' in outcome) {
      const facts = await this.options.access.beneficiary(access, beneficiaryRef, grant.token);
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
    access: StaffAccess,
    asked: DoseRequest,
    seen: DoseReads,
    birthYear: number,
    grant: ConsentGrant,
    now: Date,
  ) {
    const session = access.actor;
    const { beneficiaryRef, clientRequestId } = asked;
    const refused = await this.options.access.admitOne(
      uow,
      access,
      beneficiaryRef,
      seen.quota,
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
      actor: access.actor,
      occurredAt: now,
      beneficiaryRef,
      dose,
      grantId: grant.grantId,
    });
    await publishAccess(uow, access, now, beneficiaryRef, grant.grantId);
    return { ok: true, dose, replayed: false } as const;
  }

  /**
   * The beneficiaries a consent grant opens to this staff member, as identity's staff
   * view shows them, with their doses and the next dose due; counted in the quota.
   */
  async findForVaccination(
    access: StaffAccess,
    consentGrant: string,
  ): Promise<BeneficiaryForVaccination[]> {
    await this.options.access.checkRole(
      access,
      ROLE_FOR.findForVaccination,
      'look up beneficiaries',
    );
    const grant = await this.options.access.staffGrant(access, consentGrant, undefined);
    const found = await this.options.access.visibleBeneficiaries(grant);
    const now = this.options.clock();
    const refs = found.map((facts) => facts.beneficiaryRef);
    const outcome = await this.options.store.transaction(async (uow) => {
      const refused = await this.options.access.admitToQuota(uow, access, refs, now);
      if (refused) return { ok: false, refused } as const;
      const results: BeneficiaryForVaccination[] = [];
      for (const beneficiary of found) {
        const doses = await uow.dosesOf(beneficiary.beneficiaryRef);
        await publishAccess(uow, access, now, beneficiary.beneficiaryRef, grant.grantId);
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
    access: StaffAccess,
    request: {
      readonly doseId: string;
      readonly vaccineCode: string;
      readonly batchNumber: string;
      readonly administeredOn: string;
      readonly reason: string;
    },
  ): Promise<{
    dose: StoredDose;
    reissuedCertificateId: string | undefined;
    holdLifted: boolean;
  }> {
    const session = access.actor;
    const doseId = parseDoseId(request.doseId);
    const reason = parseReason(request.reason);
    await this.options.access.checkRole(access, ROLE_FOR.correctDose, 'correct doses');
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
        actor: access.actor,
        occurredAt: now,
        beneficiaryRef,
        dose,
        changedFields,
      });
      await publishAccess(uow, access, now, beneficiaryRef, undefined);
      const certificate = await this.options.certificates.afterCorrection(uow, access, {
        beneficiaryRef,
        doseId,
        reason,
        at: now,
      });
      return { dose, ...certificate } as const;
    });
    if ('refused' in outcome) {
      return this.options.access.deny(
        access,
        outcome.refused ?? '',
        permissionDenied('only the centre that recorded a dose may correct it', {
          reason: 'WRONG_CENTRE',
        }),
      );
    }
    return outcome;
  }
}

/** Idempotency: one client request id records one dose, whatever is sent under it later. */
function alreadyExistsDifferent(): VaxGuardError {
  return alreadyExists(
    'client_request_id was used for another dose: one request id records one dose, with one payload',
    { reason: 'REQUEST_ID_REUSED' },
  );
}
