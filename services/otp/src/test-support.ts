// The OTP integration tests' client: promise-based, authenticated as one client
// application. Refusal and leak checks are shared by every service, in @vaxguard/testing.
import { credentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import { TOKEN_HEADER } from '@vaxguard/tokens';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

export interface OtpTestClient {
  readonly raw: otpV1.OtpServiceClient;
  readonly metadata: () => Metadata;
  generate(request: Partial<otpV1.GenerateOtpRequest>): Promise<otpV1.GenerateOtpResponse>;
  resend(txnId: string): Promise<otpV1.ResendOtpResponse>;
  confirm(txnId: string, otp: string): Promise<otpV1.ConfirmOtpResponse>;
  signingKeys(): Promise<otpV1.GetSigningKeysResponse>;
  revoke(tokenId: string): Promise<otpV1.RevokeTokenResponse>;
  /** As the citizen whose token is given (none: the client's own call). */
  listMyConsents(token?: string): Promise<otpV1.ListMyConsentsResponse>;
  withdrawConsent(grantId: string, token?: string): Promise<otpV1.WithdrawConsentResponse>;
  close(): void;
}

function withToken(metadata: Metadata, token: string | undefined): Metadata {
  if (token) metadata.set(TOKEN_HEADER, token);
  return metadata;
}

/** An OtpService client that authenticates as `clientId` with `secret`. */
export function otpTestClient(address: string, clientId: string, secret: string): OtpTestClient {
  const raw = new otpV1.OtpServiceClient(address, credentials.createInsecure());
  const metadata = () => clientMetadata(clientId, secret);
  const call = <Res>(invoke: (md: Metadata, callback: Callback<Res>) => unknown): Promise<Res> =>
    unaryCall<Res>((done) => invoke(metadata(), done));
  return {
    raw,
    metadata,
    generate: (request) =>
      call((md, cb) =>
        raw.generateOtp(
          {
            mobile: '',
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_UNSPECIFIED,
            onBehalfOfClientId: '',
            ...request,
          },
          md,
          cb,
        ),
      ),
    resend: (txnId) => call((md, cb) => raw.resendOtp({ txnId }, md, cb)),
    confirm: (txnId, otp) => call((md, cb) => raw.confirmOtp({ txnId, otp }, md, cb)),
    signingKeys: () => call((md, cb) => raw.getSigningKeys({}, md, cb)),
    revoke: (tokenId) => call((md, cb) => raw.revokeToken({ tokenId }, md, cb)),
    listMyConsents: (token) => call((md, cb) => raw.listMyConsents({}, withToken(md, token), cb)),
    withdrawConsent: (grantId, token) =>
      call((md, cb) => raw.withdrawConsent({ grantId }, withToken(md, token), cb)),
    close: () => raw.close(),
  };
}
