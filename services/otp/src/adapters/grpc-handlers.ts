import { GRANTEE_KIND, OTP_PURPOSE, STAFF_ROLE } from '@vaxguard/event-catalogue';
import { invalidArgument } from '@vaxguard/errors';
import type { ServiceHandlers } from '@vaxguard/grpc-kit';
import type { otpV1 } from '@vaxguard/proto';
import { transactionOwner } from '../domain/callers';
import type { Consent, OtpPurpose, StaffSignIn } from '../domain/model';
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
  };
}
