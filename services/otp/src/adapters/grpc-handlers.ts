import { GRANTEE_KIND, OTP_PURPOSE, STAFF_ROLE } from '@vaxguard/event-catalogue';
import type { MethodPolicies } from '@vaxguard/auth';
import { invalidArgument, permissionDenied } from '@vaxguard/errors';
import type { Principal, ServiceHandlers } from '@vaxguard/grpc-kit';
import type { otpV1 } from '@vaxguard/proto';
import { AUDIENCE } from '@vaxguard/tokens';
import { transactionOwner } from '../domain/callers';
import type { Citizen, Consent, OtpPurpose, StaffSignIn } from '../domain/model';
import type { ConfirmedOtp } from '../domain/otp-service';
import type { OtpService } from '../domain/otp-service';
import { consentToProto } from './otp-events';
import type { SigningKeys } from './signing-keys';

function purposeFromProto(purpose: otpV1.OtpPurpose): OtpPurpose {
  const found = OTP_PURPOSE.fromProto(purpose);
  // A secret-code grant is issued by IssueSecretCodeGrant, never through a code.
  if (!found || found === 'SECRET_CODE') {
    throw invalidArgument(
      'purpose must be OTP_PURPOSE_CITIZEN_LOGIN, OTP_PURPOSE_CONSENT or OTP_PURPOSE_STAFF_LOGIN',
      { reason: 'INVALID_PURPOSE' },
    );
  }
  return found;
}

function consentFromProto(consent: otpV1.ConsentScope | undefined): Consent | undefined {
  if (!consent) return undefined;
  const kind = GRANTEE_KIND.fromProto(consent.grantee?.kind ?? 0);
  if (!kind) {
    throw invalidArgument(
      'consent.grantee.kind must be GRANTEE_KIND_STAFF or GRANTEE_KIND_PARTNER_CLIENT',
      {
        reason: 'INVALID_CONSENT',
      },
    );
  }
  if (consent.beneficiaryRef) {
    throw invalidArgument('consent.beneficiary_ref is superseded: use consent.beneficiary_refs', {
      reason: 'INVALID_CONSENT',
    });
  }
  return {
    beneficiaryRefs: consent.beneficiaryRefs,
    grantee: { kind, id: consent.grantee?.id ?? '' },
  };
}

function staffFromProto(staff: otpV1.StaffScope | undefined): StaffSignIn | undefined {
  if (!staff) return undefined;
  const role = STAFF_ROLE.fromProto(staff.role);
  if (!role) {
    throw invalidArgument('staff.role must be a STAFF_ROLE value', { reason: 'STAFF_REQUIRED' });
  }
  return { staffId: staff.staffId, role, centreId: staff.centreId };
}

function claimsToProto({ token, claims }: ConfirmedOtp): otpV1.ConfirmOtpResponse {
  return {
    token,
    claims: {
      tokenId: claims.tokenId,
      subject: claims.subject,
      audience: claims.audience,
      scopes: [...claims.scopes],
      issuedAt: claims.issuedAt,
      expiresAt: claims.expiresAt,
      keyId: claims.keyId,
      purpose: OTP_PURPOSE.toProto(claims.purpose),
      clientId: claims.clientId,
      consent: claims.consent ? consentToProto(claims.consent) : undefined,
      staff: claims.staff
        ? {
            staffId: claims.subject,
            role: STAFF_ROLE.toProto(claims.staff.role),
            centreId: claims.staff.centreId,
          }
        : undefined,
    },
  };
}

export const OTP_SERVICE_NAME = 'vaxguard.otp.v1.OtpService';
const path = (method: string) => `/${OTP_SERVICE_NAME}/${method}`;

/** The methods that ask for a VaxGuard token beyond the client's credentials: a citizen's own consents. */
export const OTP_METHOD_POLICIES: MethodPolicies = {
  [path('ListMyConsents')]: { token: [AUDIENCE.citizen] },
  [path('WithdrawConsent')]: { token: [AUDIENCE.citizen] },
};

/** The citizen a citizen token names, by the mobile's blind index (its subject). */
function citizenOf(principal: Principal): Citizen {
  const token = principal.token;
  if (token?.audience !== AUDIENCE.citizen || !token.subject) {
    throw permissionDenied('a citizen token is needed', { reason: 'NOT_CITIZEN' });
  }
  return { mobileIndex: token.subject, clientId: principal.clientId };
}

/** The gRPC face of the OTP service: proto in, domain call, proto out. */
export function otpHandlers(
  service: OtpService,
  keys: SigningKeys,
): ServiceHandlers<typeof otpV1.OtpServiceService> {
  return {
    async generateOtp(request, { principal }) {
      const purpose = purposeFromProto(request.purpose);
      const owner = transactionOwner(principal, purpose, request.onBehalfOfClientId);
      const sent = await service.generate(owner, {
        mobile: request.mobile,
        purpose,
        consent: consentFromProto(request.consent),
        staff: staffFromProto(request.staff),
      });
      return {
        txnId: sent.txnId,
        expiresAt: sent.expiresAt,
        resendAvailableAt: sent.resendAvailableAt,
        attemptsAllowed: sent.attemptsAllowed,
      };
    },

    async resendOtp(request, { principal }) {
      return service.resend(principal, request.txnId);
    },

    async confirmOtp(request, { principal }) {
      return claimsToProto(await service.confirm(principal, request.txnId, request.otp));
    },

    async issueSecretCodeGrant(request, { principal }) {
      const issued = await service.issueSecretCodeGrant(principal, {
        onBehalfOfClientId: request.onBehalfOfClientId,
        mobileIndex: request.mobileIndex,
        consent: consentFromProto(request.consent),
      });
      return claimsToProto(issued);
    },

    async getSigningKeys() {
      return { keys: await keys.publishedKeys() };
    },

    async revokeToken(request, { principal }) {
      await service.revoke(principal, request.tokenId);
      return {};
    },

    async listMyConsents(_request, { principal }) {
      const grants = await service.listMyConsents(citizenOf(principal));
      return {
        grants: grants.map((grant) => ({
          grantId: grant.grantId,
          consent: consentToProto(grant.consent),
          clientId: grant.clientId,
          purpose: OTP_PURPOSE.toProto(grant.purpose),
          issuedAt: grant.issuedAt,
          expiresAt: grant.expiresAt,
        })),
      };
    },

    async withdrawConsent(request, { principal }) {
      await service.withdrawConsent(citizenOf(principal), request.grantId);
      return {};
    },
  };
}
