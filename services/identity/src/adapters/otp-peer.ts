import { isVaxGuardError, unavailable } from '@vaxguard/errors';
import { GRANTEE_KIND, STAFF_ROLE } from '@vaxguard/event-catalogue';
import type { ServiceClient } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import type { SecretCodeGrants } from '../domain/beneficiary-service';
import type { ConsentCodeSender } from '../domain/consent-service';
import type { StaffSignInCodes } from '../domain/principals';

/**
 * The OTP service as identity calls it, with identity's own client credentials (which
 * carry the on-behalf and issue-consent scopes): consent codes and staff sign-in codes,
 * whose transactions belong to the caller's client (it confirms them and holds the
 * token), and grants from a secret code identity checked. Sending is not idempotent
 * (each call sends an SMS and counts against quotas), so the kit retries it only when
 * OTP says when. A refusal from OTP (a quota, a locked mobile) reaches the caller as the
 * same error; a refusal of identity's own credentials is a platform fault.
 */
export class OtpPeer implements ConsentCodeSender, StaffSignInCodes, SecretCodeGrants {
  constructor(private readonly otp: ServiceClient<typeof otpV1.OtpServiceService>) {}

  /** A CONSENT code (ConsentCodeSender). */
  async send(
    request: Parameters<ConsentCodeSender['send']>[0] | Parameters<StaffSignInCodes['send']>[0],
  ) {
    const scope =
      'staff' in request
        ? {
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_STAFF_LOGIN,
            staff: {
              staffId: request.staff.staffId,
              role: STAFF_ROLE.toProto(request.staff.role),
              centreId: request.staff.centreId,
            },
          }
        : {
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
            consent: {
              beneficiaryRef: '',
              beneficiaryRefs: [...request.beneficiaryRefs],
              grantee: {
                kind: GRANTEE_KIND.toProto(request.grantee.kind),
                id: request.grantee.id,
              },
            },
          };
    const response = await this.otp
      .call(
        'generateOtp',
        { mobile: request.mobile, ...scope, onBehalfOfClientId: request.ownerClientId },
        { idempotent: false },
      )
      .catch(platformFault('codes cannot be sent right now'));
    return { txnId: response.txnId, expiresAt: response.expiresAt ?? new Date() };
  }

  async issue(request: Parameters<SecretCodeGrants['issue']>[0]) {
    const response = await this.otp
      .call(
        'issueSecretCodeGrant',
        {
          onBehalfOfClientId: request.ownerClientId,
          mobileIndex: request.mobileIndex,
          consent: {
            beneficiaryRef: '',
            beneficiaryRefs: [request.beneficiaryRef],
            grantee: { kind: GRANTEE_KIND.toProto('STAFF'), id: request.staffId },
          },
        },
        { idempotent: false },
      )
      .catch(platformFault('consent grants cannot be issued right now'));
    return { token: response.token, expiresAt: response.claims?.expiresAt ?? new Date() };
  }
}

/**
 * A refusal of identity's own credentials is not the caller's doing: it is a fault of
 * the platform, reported as such, the cause kept for the log.
 */
function platformFault(message: string) {
  return (error: unknown): never => {
    if (
      isVaxGuardError(error) &&
      (error.code === 'UNAUTHENTICATED' || error.code === 'PERMISSION_DENIED')
    ) {
      throw unavailable(message, { cause: error });
    }
    throw error;
  };
}
