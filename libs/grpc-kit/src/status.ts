import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  dependencyUnavailable,
  INTERNAL_ERROR_MESSAGE,
  isConnectionLost,
  isVaxGuardError,
  toVaxGuardError,
  VaxGuardError,
  type ErrorCode,
} from '@vaxguard/errors';
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
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

const DETAILS_KEY = 'grpc-status-details-bin';
const ERROR_DOMAIN = 'vaxguard.in';
const RETRY_INFO_URL = 'type.googleapis.com/google.rpc.RetryInfo';
const ERROR_INFO_URL = 'type.googleapis.com/google.rpc.ErrorInfo';

/** A status code from a gRPC status error's number or a VaxGuardError's code name. */
export function statusCodeOf(error: unknown): status {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  const numbered = typeof code === 'string' ? (status as Record<string, unknown>)[code] : undefined;
  return typeof numbered === 'number' ? numbered : status.UNKNOWN;
}

export type StatusError = Partial<ServiceError> & { code: status; details: string };

/**
 * The one place where a thrown value becomes a gRPC status. A VaxGuardError keeps its
 * code and message, with its reason and retry delay in the standard status details; a
 * connection to the database (or anything else) that could not be opened or was lost
 * becomes UNAVAILABLE DEPENDENCY_UNAVAILABLE, which the caller may retry; an INTERNAL
 * VaxGuardError and anything else become INTERNAL with a generic message. Only the log
 * sees what happened.
 */
export function toStatusError(error: unknown, logger: Logger, method: string): StatusError {
  if (!isVaxGuardError(error) && isConnectionLost(error)) {
    logger.warn('a call failed on a lost connection', { method, err: error });
    return toStatusError(dependencyUnavailable(error), logger, method);
  }
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
  return { code: status.INTERNAL, details: INTERNAL_ERROR_MESSAGE };
}

export interface StatusDetails {
  readonly reason?: string;
  readonly retryAfterMs?: number;
}

/**
 * Reads the reason (a google.rpc.ErrorInfo of the vaxguard.in domain) and the retry
 * delay (google.rpc.RetryInfo) a VaxGuard server put in an error's status details.
 * Details from another domain, and details that do not decode, are ignored: they come
 * from a peer we do not control and must not break the call that reads them.
 */
export function readStatusDetails(error: { metadata?: Metadata }): StatusDetails {
  const raw = error.metadata?.get(DETAILS_KEY)[0];
  if (!raw || typeof raw === 'string') return {};
  let reason: string | undefined;
  let retryAfterMs: number | undefined;
  try {
    for (const detail of googleRpc.Status.decode(raw).details) {
      if (detail.typeUrl === ERROR_INFO_URL) {
        const info = googleRpcDetails.ErrorInfo.decode(detail.value);
        if (info.domain === ERROR_DOMAIN && info.reason) reason = info.reason;
      } else if (detail.typeUrl === RETRY_INFO_URL) {
        const delay = googleRpcDetails.RetryInfo.decode(detail.value).retryDelay;
        const ms = delay ? Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6) : NaN;
        if (Number.isFinite(ms) && ms >= 0) retryAfterMs = ms;
      }
    }
  } catch {
    return {};
  }
  return {
    ...(reason === undefined ? {} : { reason }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

const ERROR_CODES_BY_STATUS: ReadonlyMap<number, ErrorCode> = new Map(
  Object.entries(GRPC_CODES).map(([name, code]) => [code, name as ErrorCode]),
);

/** The reason a VaxGuard server gives for work it abandoned when its call was cancelled. */
export const CALLER_CANCELLED = 'CALLER_CANCELLED';

/**
 * The inverse of `toStatusError`, on the calling side: a status from a VaxGuard server
 * becomes the same VaxGuardError (code, message, reason, retry delay), the status kept as
 * `cause` for the log. INTERNAL always carries the generic message. Codes VaxGuard does
 * not use mean the call broke, not a refusal: CANCELLED (cut off on the way) becomes
 * UNAVAILABLE, and so does a peer's ABORTED CALLER_CANCELLED (the peer's rendering of a
 * cancellation), as UNAVAILABLE DEPENDENCY_UNAVAILABLE: passed on as it is, it would tell
 * this service's caller, who cancelled nothing, that it had; UNKNOWN, UNIMPLEMENTED (a peer without the method) and DATA_LOSS become
 * INTERNAL; so does a failure that is not a status at all.
 */
export function fromStatusError(error: unknown): VaxGuardError {
  const failure = error as Partial<ServiceError> | null | undefined;
  if (isVaxGuardError(error) || typeof failure?.code !== 'number') return toVaxGuardError(error);
  const known = ERROR_CODES_BY_STATUS.get(failure.code);
  if (known === undefined || known === 'INTERNAL') {
    return failure.code === status.CANCELLED
      ? new VaxGuardError('UNAVAILABLE', 'the call was cancelled before it completed', {
          cause: error,
        })
      : new VaxGuardError('INTERNAL', INTERNAL_ERROR_MESSAGE, { cause: error });
  }
  const { reason, retryAfterMs } = readStatusDetails(failure);
  // The peer gave up this call's work because it heard its caller go (its CANCELLED):
  // for this service's own caller, still there, a system it needs did not answer.
  if (known === 'ABORTED' && reason === CALLER_CANCELLED) {
    return dependencyUnavailable(error);
  }
  return new VaxGuardError(known, failure.details || 'the call failed', {
    ...(reason === undefined ? {} : { reason }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    cause: error,
  });
}
