import { requireStaffSession, type AccessRegistry, type MethodPolicies } from '@vaxguard/auth';
import { unauthenticated } from '@vaxguard/errors';
import type { CallContext, ServiceHandlers } from '@vaxguard/grpc-kit';
import { vaccinationRecordV1 } from '@vaxguard/proto';
import { AUDIENCE, TOKEN_HEADER } from '@vaxguard/tokens';
import { certificateReaderActor } from '../domain/access-decisions';
import type { CertificateService } from '../domain/certificate-service';
import type { DoseService } from '../domain/dose-service';
import type {
  AccessContext,
  AccessPurpose,
  CertificateReader,
  StaffAccess,
  StoredDose,
} from '../domain/model';
import { REVOCATION_CAUSE } from './revocation-cause';

export const VACCINATION_RECORD_SERVICE_NAME =
  'vaxguard.vaccination_record.v1.VaccinationRecordService';
const path = (method: string) => `/${VACCINATION_RECORD_SERVICE_NAME}/${method}`;

const STAFF_SESSION = { token: [AUDIENCE.staff] };
/** Which token each method asks for; the others need the client's credentials only. */
export const VACCINATION_RECORD_METHOD_POLICIES: MethodPolicies = {
  [path('RecordDose')]: STAFF_SESSION,
  [path('CorrectDose')]: STAFF_SESSION,
  [path('FindBeneficiaryForVaccination')]: STAFF_SESSION,
  [path('RevokeCertificate')]: STAFF_SESSION,
  [path('LiftCertificateHold')]: STAFF_SESSION,
  [path('GetCertificate')]: { token: [AUDIENCE.citizen, AUDIENCE.consent] },
};

function certificateReaderOf(context: CallContext, registry: AccessRegistry): CertificateReader {
  const { principal } = context;
  const token = principal.token;
  const raw = context.metadata.get(TOKEN_HEADER)[0];
  const relayed = typeof raw === 'string' ? raw : '';
  if (token?.audience === AUDIENCE.citizen) {
    return {
      kind: 'citizen',
      mobileIndex: token.subject,
      clientId: principal.clientId,
      token: relayed,
    };
  }
  if (token?.audience === AUDIENCE.consent && token.consent) {
    return {
      kind: 'grantee',
      clientId: principal.clientId,
      grant: {
        grantId: token.tokenId,
        clientId: token.clientId,
        granteeKind: token.consent.grantee.kind,
        granteeId: token.consent.grantee.id,
        beneficiaryRefs: token.consent.beneficiaryRefs,
        token: relayed,
      },
      partnerScopes: registry.partner(principal.clientId)?.scopes ?? [],
    };
  }
  throw unauthenticated('this method needs a citizen token or a consent grant', {
    reason: 'TOKEN_REQUIRED',
  });
}

/** A staff member's access through this call: their session, the purpose, the method. */
function staffAccess({ principal, method }: CallContext, purpose: AccessPurpose): StaffAccess {
  return { actor: { kind: 'staff', ...requireStaffSession(principal) }, purpose, method };
}

function doseToProto(dose: StoredDose): vaccinationRecordV1.Dose {
  return {
    doseId: dose.doseId,
    beneficiaryRef: dose.beneficiaryRef,
    vaccineCode: dose.vaccineCode,
    doseNumber: dose.doseNumber,
    batchNumber: dose.batchNumber,
    administeredOn: dose.administeredOn,
    centreId: dose.centreId,
    vaccinatorId: dose.vaccinatorRef,
    recordedAt: dose.recordedAt,
    version: dose.version,
  };
}

const VERIFICATION_STATUS = {
  valid: vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_VALID,
  invalid: vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_INVALID,
  revoked: vaccinationRecordV1.VerificationStatus.VERIFICATION_STATUS_REVOKED,
} as const;

/** The gRPC face of the vaccination-record service: proto in, domain call, proto out. */
export function vaccinationRecordHandlers(
  {
    doses,
    certificates,
  }: { readonly doses: DoseService; readonly certificates: CertificateService },
  registry: AccessRegistry,
  issuer: string,
): ServiceHandlers<typeof vaccinationRecordV1.VaccinationRecordServiceService> {
  return {
    async recordDose(request, context) {
      const { dose, replayed } = await doses.recordDose(staffAccess(context, 'RECORD_DOSE'), {
        beneficiaryRef: request.beneficiaryRef,
        vaccineCode: request.vaccineCode,
        doseNumber: request.doseNumber,
        batchNumber: request.batchNumber,
        administeredOn: request.administeredOn,
        clientRequestId: request.clientRequestId,
        consentGrant: request.consentGrant,
      });
      return { dose: doseToProto(dose), replayed };
    },

    async correctDose(request, context) {
      const { dose, reissuedCertificateId, holdLifted } = await doses.correctDose(
        staffAccess(context, 'CORRECTION'),
        request,
      );
      return {
        dose: doseToProto(dose),
        reissuedCertificateId: reissuedCertificateId ?? '',
        certificateHoldLifted: holdLifted,
      };
    },

    async findBeneficiaryForVaccination(request, context) {
      const found = await doses.findForVaccination(
        staffAccess(context, 'VACCINATION'),
        request.consentGrant,
      );
      return {
        beneficiaries: found.map(({ beneficiary, doses, nextDose }) => ({
          beneficiaryRef: beneficiary.beneficiaryRef,
          name: beneficiary.name ?? '',
          yearOfBirth: beneficiary.yearOfBirth ?? 0,
          maskedPhotoId: beneficiary.maskedPhotoId ?? '',
          doses: doses.map(doseToProto),
          nextDose: nextDose.complete
            ? { doseNumber: 0, vaccineCodes: [], earliestOn: '', latestOn: '', complete: true }
            : {
                doseNumber: nextDose.doseNumber,
                vaccineCodes: nextDose.options.map((option) => option.vaccineCode),
                earliestOn: nextDose.earliest,
                latestOn: nextDose.latest ?? '',
                complete: false,
              },
        })),
      };
    },

    async getCertificate(request, context) {
      const reader = certificateReaderOf(context, registry);
      const access: AccessContext = {
        actor: certificateReaderActor(reader),
        purpose: 'CERTIFICATE',
        method: context.method,
      };
      return certificates.getCertificate(access, reader, request.beneficiaryRef);
    },

    async getIssuerKeys() {
      return { issuer, jwksJson: (await certificates.issuerKeysDocument()).text() };
    },

    async revokeCertificate(request, context) {
      const { kid, crlVersion, held } = await certificates.revokeCertificate(
        staffAccess(context, 'CERTIFICATE'),
        {
          certificateId: request.certificateId,
          reason: request.reason,
          cause: REVOCATION_CAUSE.fromProto(request.cause),
        },
      );
      return { kid, crlVersion: String(crlVersion), certificateHeld: held };
    },

    async liftCertificateHold(request, context) {
      return certificates.liftCertificateHold(staffAccess(context, 'CERTIFICATE'), request);
    },

    async getRevocationList(request) {
      const list = await certificates.revocationListDocument(request.kid);
      return { revocationListJson: list.text(), crlVersion: String(list.ctr) };
    },

    async verifyCertificate(request) {
      const result = await certificates.verify(request.qrOrJws);
      return {
        status: VERIFICATION_STATUS[result.status],
        invalidReason: result.status === 'invalid' ? result.reason : '',
        name: result.status === 'valid' ? result.name : '',
        yearOfBirth: result.status === 'valid' ? result.yearOfBirth : 0,
        doses:
          result.status === 'valid'
            ? result.doses.map((dose) => ({
                vaccineCode: dose.vaccineCode,
                occurrenceDate: dose.date,
              }))
            : [],
      };
    },
  };
}
