import { credentials, type ServiceError } from '@grpc/grpc-js';
import { GRANTEE_KIND } from '@vaxguard/event-catalogue';
import { clientMetadata, fromStatusError, unaryCall } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import type { ConsentCodeSender } from '../domain/consent-service';

const DEADLINE_MS = 5_000;

/**
 * Consent codes through the OTP service, with identity's own client credentials (which
 * carry the on-behalf scope): the transaction belongs to the requester's client, which
 * confirms it and holds the grant. A refusal from OTP (a quota, a locked mobile) reaches
 * the caller as the same error.
 */
export class OtpConsentCodes implements ConsentCodeSender {
  private readonly client: otpV1.OtpServiceClient;

  constructor(
    address: string,
    private readonly credential: { readonly clientId: string; readonly secret: string },
  ) {
    this.client = new otpV1.OtpServiceClient(address, credentials.createInsecure());
  }

  async send(request: Parameters<ConsentCodeSender['send']>[0]) {
    try {
      const response = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
        this.client.generateOtp(
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
          clientMetadata(this.credential.clientId, this.credential.secret),
          { deadline: new Date(Date.now() + DEADLINE_MS) },
          done,
        ),
      );
      return { txnId: response.txnId, expiresAt: response.expiresAt ?? new Date() };
    } catch (error) {
      throw fromStatusError(error as ServiceError);
    }
  }

  close(): void {
    this.client.close();
  }
}
