import {
  buildImmunizationBundle,
  createOfflineVerifier,
  deriveRid,
  issueHealthCard,
  qrSvg,
  renderCertificateSvg,
  toNumericQr,
  type Jwks,
  type OfflineVerifier,
  type RevocationList,
} from '@vaxguard/health-cards';
import { failedPrecondition, notFound, permissionDenied } from '@vaxguard/errors';
import { parseBeneficiaryRef } from '@vaxguard/pii';
import { publishAccess, type AccessDecisions } from './access-decisions';
import type {
  AccessContext,
  CentreDirectory,
  CertificateHold,
  CertificateReader,
  CertificateRecord,
  EventActor,
  HoldLift,
  IssuerKeyring,
  RecordStore,
  RecordUnitOfWork,
  StaffAccess,
} from './model';
import {
  centreDisplayName,
  checkNotHeld,
  HOLD_LIFTED_BY_CORRECTION,
  holdsCertificate,
  newCertificateId,
  parseCertificateId,
  parseReason,
  parseRevocationCause,
  ROLE_FOR,
  type RevocationCause,
} from './record-rules';
import {
  IssuerPublication,
  type PublishedIssuer,
  type ServedDocument,
  type ServedRevocationList,
} from './revocation-list';
import { healthCardVaccineCoding, isCovid19Vaccine, isVaccineCode, VACCINES } from './vaccines';

export interface CertificateServiceOptions {
  readonly store: RecordStore;
  readonly access: AccessDecisions;
  /** Where certificates find the name of each dose's centre. */
  readonly centres: CentreDirectory;
  readonly keys: IssuerKeyring;
  readonly clock: () => Date;
  /** The issuer URL cards carry in `iss`. */
  readonly issuer: string;
  /** The secret rids are derived with (SMART Health Cards: "Revocation"). */
  readonly ridSecret: Buffer;
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

/**
 * Certificates as SMART Health Cards: issued to the citizen or a partner with consent,
 * reissued when a dose is corrected, revoked by a platform admin (holding the
 * beneficiary's certificate for a holding cause until a correction or an admin lifts it),
 * the issuer's keys and revocation lists published, and cards verified online.
 */
export class CertificateService {
  /**
   * The verifier for the keys and lists as last published, with what they were: building
   * one imports every key and reads every list, about twice a verification's cost.
   */
  private onlineVerifier:
    { readonly published: PublishedIssuer; readonly verifier: OfflineVerifier } | undefined;
  /** The keys and lists as published, kept and brought up to date by position. */
  readonly publication: IssuerPublication;

  constructor(private readonly options: CertificateServiceOptions) {
    this.publication = new IssuerPublication(options.keys);
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
   * What a correction of one of the beneficiary's doses does to their certificate, inside
   * the correction's `uow` (which holds the beneficiary's lock): a hold its cause lets a
   * correction lift is lifted, and the live certificate is revoked and replaced.
   */
  async afterCorrection(
    uow: RecordUnitOfWork,
    access: StaffAccess,
    correction: {
      readonly beneficiaryRef: string;
      readonly doseId: string;
      readonly reason: string;
      readonly at: Date;
    },
  ): Promise<{ reissuedCertificateId: string | undefined; holdLifted: boolean }> {
    const { actor } = access;
    const { beneficiaryRef, doseId, reason, at: now } = correction;
    const hold = await uow.activeHold(beneficiaryRef);
    const holdLifted = hold !== undefined && HOLD_LIFTED_BY_CORRECTION[hold.cause];
    if (hold && holdLifted) {
      await liftHold(uow, actor, hold, {
        liftedBy: 'CORRECTION',
        staffId: actor.staffId,
        at: now,
        reason,
        doseId,
      });
    }
    // A hold revoked the live certificate: there is none to replace while one was in place.
    const live = await uow.liveCertificate(beneficiaryRef);
    if (!live) return { reissuedCertificateId: undefined, holdLifted };
    await revokeCertificate(uow, actor, live, { at: now, reason, cause: 'REISSUED' });
    const replacement = await this.newCertificate(
      uow,
      beneficiaryRef,
      now,
      actor,
      live.certificateId,
    );
    return { reissuedCertificateId: replacement.certificateId, holdLifted };
  }

  /**
   * The beneficiary's certificate, a SMART Health Card, for the citizen who owns the
   * record or a partner whose consent grant covers it and whose scopes show the name and
   * year of birth. One live certificate per beneficiary; each call signs the current doses.
   */
  async getCertificate(
    access: AccessContext,
    reader: CertificateReader,
    ref: string,
  ): Promise<Certificate> {
    const beneficiaryRef = parseBeneficiaryRef(ref);
    const token = await this.options.access.certificateToken(access, reader, beneficiaryRef);
    const facts = await this.options.access.beneficiary(access, beneficiaryRef, token);
    const { name, yearOfBirth } = facts;
    if (name === undefined || yearOfBirth === undefined) {
      return this.options.access.deny(
        access,
        beneficiaryRef,
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
          access,
          now,
          beneficiaryRef,
          reader.kind === 'grantee' ? reader.grant.grantId : undefined,
        );
        const certificate =
          (await uow.liveCertificate(beneficiaryRef)) ??
          (await this.newCertificate(uow, beneficiaryRef, now, access.actor, undefined));
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
    access: StaffAccess,
    request: {
      readonly certificateId: string;
      readonly reason: string;
      readonly cause: RevocationCause | undefined;
    },
  ): Promise<{ kid: string; crlVersion: number; held: boolean }> {
    const { actor } = access;
    const certificateId = parseCertificateId(request.certificateId);
    const reason = parseReason(request.reason);
    const cause = parseRevocationCause(request.cause);
    await this.options.access.checkRole(access, ROLE_FOR.revokeCertificate, 'revoke certificates');
    const now = this.options.clock();
    return this.options.store.transaction(async (uow) => {
      const certificate = await lockedCertificate(uow, certificateId);
      const beneficiaryRef = certificate.beneficiaryRef;
      const revoke = (revoked: CertificateRecord) =>
        revokeCertificate(uow, actor, revoked, {
          at: now,
          reason,
          cause: 'ADMIN',
          revocationCause: cause,
        });
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
        placedBy: actor.staffId,
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
    access: StaffAccess,
    request: { readonly certificateId: string; readonly reason: string },
  ): Promise<{ lifted: boolean }> {
    const { actor } = access;
    const certificateId = parseCertificateId(request.certificateId);
    const reason = parseReason(request.reason);
    await this.options.access.checkRole(
      access,
      ROLE_FOR.liftCertificateHold,
      'lift certificate holds',
    );
    const now = this.options.clock();
    return this.options.store.transaction(async (uow) => {
      const { beneficiaryRef } = await lockedCertificate(uow, certificateId);
      const hold = await uow.activeHold(beneficiaryRef);
      if (!hold) return { lifted: false };
      await liftHold(uow, actor, hold, {
        liftedBy: 'ADMIN',
        staffId: actor.staffId,
        at: now,
        reason,
        doseId: undefined,
      });
      return { lifted: true };
    });
  }

  /** The published keys, each with its revocation list's counter. */
  async issuerKeys(): Promise<Jwks> {
    return (await this.publication.current()).jwks;
  }

  /** The JWKS document as served, with its ETag. */
  async issuerKeysDocument(): Promise<ServedDocument> {
    return (await this.publication.current()).jwksDocument;
  }

  async revocationList(kid: string): Promise<RevocationList> {
    return (await this.revocationListDocument(kid)).list();
  }

  /** A key's revocation list as served, with its ETag; NOT_FOUND UNKNOWN_KID for no key. */
  async revocationListDocument(kid: string): Promise<ServedRevocationList> {
    const list = (await this.publication.current()).lists.get(kid);
    if (!list) throw notFound('no issuer key has this kid', { reason: 'UNKNOWN_KID' });
    return list;
  }

  /**
   * Online verification with the same offline verifier partners embed, against this
   * issuer's keys and lists as they stand: valid with the minimum (name, year of birth,
   * doses), revoked, or invalid and why.
   */
  async verify(input: string): Promise<Verification> {
    const published = await this.publication.current();
    // A new version of the keys and lists is a new object: the verifier is built again
    // only when what is published changed.
    if (this.onlineVerifier?.published !== published) {
      const verifier = createOfflineVerifier({
        issuers: [
          {
            iss: this.options.issuer,
            jwks: published.jwks,
            revocations: published.revocationLists(),
          },
        ],
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

/**
 * The certificate, read again once its beneficiary's lock is held (the lock comes
 * before any row lock, in the order every other transaction of a beneficiary takes).
 */
async function lockedCertificate(
  uow: RecordUnitOfWork,
  certificateId: string,
): Promise<CertificateRecord> {
  const found = await uow.findCertificate(certificateId);
  if (!found) throw notFound('no certificate has this id', { reason: 'NO_CERTIFICATE' });
  await uow.lockBeneficiary(found.beneficiaryRef);
  return (await uow.findCertificate(certificateId)) ?? found;
}

/**
 * Revokes the certificate (its rid joins its key's list) and publishes why: replaced
 * after a correction, or revoked by an admin for a cause. Returns the list's new counter.
 */
async function revokeCertificate(
  uow: RecordUnitOfWork,
  actor: EventActor,
  certificate: CertificateRecord,
  revocation: {
    readonly at: Date;
    readonly reason: string;
    readonly cause: 'REISSUED' | 'ADMIN';
    readonly revocationCause?: RevocationCause;
  },
): Promise<number> {
  const crlVersion = await uow.revokeCertificate(certificate, revocation.at, revocation.reason);
  await uow.publish({
    type: 'certificate.revoked',
    actor,
    occurredAt: revocation.at,
    beneficiaryRef: certificate.beneficiaryRef,
    certificate,
    crlVersion,
    cause: revocation.cause,
    revocationCause: revocation.revocationCause,
  });
  return crlVersion;
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
