import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isVaxGuardError, VaxGuardError, type ErrorCode } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import { googleRpc, googleRpcDetails } from '@vaxguard/proto';

const GRPC_CODES: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  ABORTED: status.ABORTED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

const DETAILS_KEY = 'grpc-status-details-bin';
const ERROR_DOMAIN = 'vaxguard.in';
const RETRY_INFO_URL = 'type.googleapis.com/google.rpc.RetryInfo';
const ERROR_INFO_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

export type StatusError = Partial<ServiceError> & { code: status; details: string };

/**
 * The one place where a thrown value becomes a gRPC status. A VaxGuardError keeps its
 * code and message, with its reason and retry delay in the standard status details;
 * an INTERNAL VaxGuardError and anything else become INTERNAL with a generic message,
 * and only the log sees what happened.
 */
export function toStatusError(error: unknown, logger: Logger, method: string): StatusError {
  if (isVaxGuardError(error) && error.code !== 'INTERNAL') {
    const details: googleRpc.Status['details'] = [];
    if (error.reason) {
      details.push({
        typeUrl: ERROR_INFO_URL,
        value: Buffer.from(
          googleRpcDetails.ErrorInfo.encode({
            reason: error.reason,
            domain: ERROR_DOMAIN,
            metadata: {},
          }).finish(),
        ),
      });
    }
    if (error.retryAfterMs !== undefined) {
      const ms = Math.max(0, Math.ceil(error.retryAfterMs));
      details.push({
        typeUrl: RETRY_INFO_URL,
        value: Buffer.from(
          googleRpcDetails.RetryInfo.encode({
            retryDelay: { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
          }).finish(),
        ),
      });
    }
    const code = GRPC_CODES[error.code];
    const metadata = new Metadata();
    if (details.length > 0) {
      metadata.set(
        DETAILS_KEY,
        Buffer.from(googleRpc.Status.encode({ code, message: error.message, details }).finish()),
      );
    }
    return { code, details: error.message, metadata };
  }
  logger.error(isVaxGuardError(error) ? 'internal error' : 'unexpected error', {
    method,
    err: error,
  });
  return { code: status.INTERNAL, details: 'internal error' };
}

export interface StatusDetails {
  readonly reason?: string;
  readonly retryAfterMs?: number;
}

/** Reads the reason and retry delay a VaxGuard server put in an error's status details. */
export function readStatusDetails(error: { metadata?: Metadata }): StatusDetails {
  const raw = error.metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return {};
  const decoded = googleRpc.Status.decode(raw);
  let reason: string | undefined;
  let retryAfterMs: number | undefined;
  for (const detail of decoded.details) {
    if (detail.typeUrl === ERROR_INFO_URL) {
      reason = googleRpcDetails.ErrorInfo.decode(detail.value).reason;
    } else if (detail.typeUrl === RETRY_INFO_URL) {
      const delay = googleRpcDetails.RetryInfo.decode(detail.value).retryDelay;
      if (delay) retryAfterMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
    }
  }
  return {
    ...(reason === undefined ? {} : { reason }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

const ERROR_CODES: ReadonlyMap<number, ErrorCode> = new Map(
  Object.entries(GRPC_CODES).map(([name, code]) => [code, name as ErrorCode]),
);

/**
 * The inverse of `toStatusError`, on the calling side: a status from a VaxGuard server
 * becomes the same VaxGuardError (code, message, reason, retry delay). A status with a
 * code outside VaxGuard's set (CANCELLED, UNKNOWN, ...) becomes UNAVAILABLE, and a
 * failure that is not a status at all becomes INTERNAL; the original is kept as cause.
 */
export function fromStatusError(error: unknown): VaxGuardError {
  if (isVaxGuardError(error)) return error;
  const failure = error as Partial<ServiceError>;
  if (typeof failure.code !== 'number') {
    return new VaxGuardError('INTERNAL', 'internal error', { cause: error });
  }
  const { reason, retryAfterMs } = readStatusDetails(failure);
  const code = ERROR_CODES.get(failure.code) ?? 'UNAVAILABLE';
  return new VaxGuardError(code, failure.details ?? 'the call failed', {
    ...(reason === undefined ? {} : { reason }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    cause: error,
  });
}
