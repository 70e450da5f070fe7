import { isVaxGuardError, unavailable } from '@vaxguard/errors';
import { GRANTEE_KIND } from '@vaxguard/event-catalogue';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import type { PeerConfig } from '@vaxguard/runtime';
import type { ConsentCodeSender } from '../domain/consent-service';

/**
 * Consent codes through the OTP service, with identity's own client credentials (which
 * carry the on-behalf scope): the transaction belongs to the requester's client, which
 * confirms it and holds the grant. Sending is not idempotent (each call sends an SMS and
 * counts against quotas), so the kit retries it only when OTP says when. A refusal from
 * OTP (a quota, a locked mobile) reaches the caller as the same error.
 */
export class OtpConsentCodes implements ConsentCodeSender {
  private readonly otp: ServiceClient<typeof otpV1.OtpServiceService>;

  constructor(peer: PeerConfig) {
    this.otp = createServiceClient(otpV1.OtpServiceService, {
      address: peer.otpAddress,
      clientId: peer.serviceClientId,
      secret: peer.serviceClientSecret,
    });
  }

  async send(request: Parameters<ConsentCodeSender['send']>[0]) {
    const response = await this.otp
      .call(
        'generateOtp',
        {
          mobile: request.mobile,
          purpose: otpV1.OtpPurpose.OTP_PURPOSE_CONSENT,
          consent: {
            beneficiaryRef: '',
            beneficiaryRefs: [...request.beneficiaryRefs],
            grantee: { kind: GRANTEE_KIND.toProto(request.grantee.kind), id: request.grantee.id },
          },
          onBehalfOfClientId: request.ownerClientId,
        },
        { idempotent: false },
      )
      .catch((error: unknown) => {
        // A refusal of identity's own credentials is not the caller's doing: it is a
        // fault of the platform, reported as such, the cause kept for the log.
        if (
          isVaxGuardError(error) &&
          (error.code === 'UNAUTHENTICATED' || error.code === 'PERMISSION_DENIED')
        ) {
          throw unavailable('consent codes cannot be sent right now', { cause: error });
        }
        throw error;
      });
    return { txnId: response.txnId, expiresAt: response.expiresAt ?? new Date() };
  }

  close(): void {
    this.otp.close();
  }
}
