// Helpers shared by the OTP integration tests: a promise-based client and readers of
// gRPC refusals and of leaks.
import { credentials, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { clientMetadata, readStatusDetails, unaryCall } from '@vaxguard/grpc-kit';
import { findSensitive } from '@vaxguard/pii';
import { otpV1 } from '@vaxguard/proto';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;

export interface OtpTestClient {
  readonly raw: otpV1.OtpServiceClient;
  readonly metadata: () => Metadata;
  generate(request: Partial<otpV1.GenerateOtpRequest>): Promise<otpV1.GenerateOtpResponse>;
  resend(txnId: string): Promise<otpV1.ResendOtpResponse>;
  confirm(txnId: string, otp: string): Promise<otpV1.ConfirmOtpResponse>;
  signingKeys(): Promise<otpV1.GetSigningKeysResponse>;
  revoke(tokenId: string): Promise<otpV1.RevokeTokenResponse>;
  close(): void;
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
          { mobile: '', purpose: otpV1.OtpPurpose.OTP_PURPOSE_UNSPECIFIED, ...request },
          md,
          cb,
        ),
      ),
    resend: (txnId) => call((md, cb) => raw.resendOtp({ txnId }, md, cb)),
    confirm: (txnId, otp) => call((md, cb) => raw.confirmOtp({ txnId, otp }, md, cb)),
    signingKeys: () => call((md, cb) => raw.getSigningKeys({}, md, cb)),
    revoke: (tokenId) => call((md, cb) => raw.revokeToken({ tokenId }, md, cb)),
    close: () => raw.close(),
  };
}

export interface Refusal {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
  readonly retryAfterMs?: number;
}

function toRefusal(error: unknown): Refusal {
  const serviceError = error as ServiceError;
  if (typeof serviceError.code !== 'number') throw error;
  return {
    code: serviceError.code,
    message: serviceError.details,
    ...readStatusDetails(serviceError),
  };
}

/** The status a call was refused with, with the reason and retry delay from its details. */
export async function refusalOf(promise: Promise<unknown>): Promise<Refusal> {
  try {
    await promise;
  } catch (error) {
    return toRefusal(error);
  }
  throw new Error('expected the call to be refused');
}

/** `undefined` when the call succeeded, else how it was refused: for calls fired together. */
export async function outcomeOf(promise: Promise<unknown>): Promise<Refusal | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return toRefusal(error);
  }
}

/**
 * Every place in `text` where a given mobile number or code, or anything the PII
 * scanner recognises, appears. Codes count only as whole numbers (not inside a longer
 * run of letters or digits such as a hex id, where 6 digits turn up by chance).
 */
export function leaks(text: string, mobiles: Iterable<string>, codes: Iterable<string>): string[] {
  const found: string[] = [];
  for (const mobile of mobiles) if (text.includes(mobile)) found.push(`mobile ${mobile}`);
  for (const code of codes) {
    if (new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text)) found.push(`code ${code}`);
  }
  for (const { kind, match } of findSensitive(text)) found.push(`${kind} ${match}`);
  return found;
}
