/**
 * The one error model of VaxGuard. Domain code throws these; the gRPC boundary
 * (libs/grpc-kit) turns them into a status with the same name. Messages are shown to
 * callers, so they never contain a phone number, identity number, OTP or token.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'DEADLINE_EXCEEDED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorOptions {
  /** Stable machine-readable reason, such as `OTP_EXPIRED`. */
  readonly reason?: string;
  /** For RESOURCE_EXHAUSTED: how long until a retry may succeed. */
  readonly retryAfterMs?: number;
  /** The underlying failure, for logs only; never sent to a caller. */
  readonly cause?: unknown;
}

export class VaxGuardError extends Error {
  override readonly name: string = 'VaxGuardError';
  readonly reason: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const factory =
  (code: ErrorCode) =>
  (message: string, options?: ErrorOptions): VaxGuardError =>
    new VaxGuardError(code, message, options);

export const invalidArgument = factory('INVALID_ARGUMENT');
export const notFound = factory('NOT_FOUND');
export const alreadyExists = factory('ALREADY_EXISTS');
export const permissionDenied = factory('PERMISSION_DENIED');
export const unauthenticated = factory('UNAUTHENTICATED');
export const failedPrecondition = factory('FAILED_PRECONDITION');
export const unavailable = factory('UNAVAILABLE');

export function resourceExhausted(
  message: string,
  retryAfterMs: number,
  options: Omit<ErrorOptions, 'retryAfterMs'> = {},
): VaxGuardError {
  return new VaxGuardError('RESOURCE_EXHAUSTED', message, { ...options, retryAfterMs });
}

export function isVaxGuardError(value: unknown): value is VaxGuardError {
  return value instanceof VaxGuardError;
}
