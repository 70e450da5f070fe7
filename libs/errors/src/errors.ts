/**
 * The one error model of VaxGuard. Domain code throws these; the gRPC boundary
 * (libs/grpc-kit) turns them into a status with the same name, and a calling service
 * turns that status back into the same error. Messages are shown to callers, so they
 * never contain a phone number, identity number, OTP or token.
 */

/** The gRPC status names VaxGuard uses, and the only codes a VaxGuardError carries. */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && CODES.has(value);
}

/** What a caller is told of any INTERNAL error; what happened goes to the log only. */
export const INTERNAL_ERROR_MESSAGE = 'internal error';

export interface ErrorOptions {
  /** Stable machine-readable reason, such as `OTP_EXPIRED`. */
  readonly reason?: string;
  /** For RESOURCE_EXHAUSTED: how long until a retry may succeed. */
  readonly retryAfterMs?: number;
  /** The underlying failure, for logs only; never sent to a caller. */
  readonly cause?: unknown;
}

/**
 * The brand every VaxGuardError carries. `Symbol.for` gives the same symbol to every copy
 * of this library in a process (a bundle and node_modules, two versions side by side),
 * where `instanceof` would see two unrelated classes.
 */
const BRAND: unique symbol = Symbol.for('vaxguard.error') as never;

export class VaxGuardError extends Error {
  override readonly name: string = 'VaxGuardError';
  readonly [BRAND] = true;
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
/**
 * A well-formed request for a position past the current end (a leaf beyond the tree):
 * unlike INVALID_ARGUMENT, the same request may succeed once the data grows.
 */
export const outOfRange = factory('OUT_OF_RANGE');
export const unavailable = factory('UNAVAILABLE');

export function resourceExhausted(
  message: string,
  retryAfterMs: number,
  options: Omit<ErrorOptions, 'retryAfterMs'> = {},
): VaxGuardError {
  return new VaxGuardError('RESOURCE_EXHAUSTED', message, { ...options, retryAfterMs });
}

/**
 * Whether a value is a VaxGuardError from any copy of this library: recognised by its
 * brand and a known code, not by `instanceof` alone.
 */
export function isVaxGuardError(value: unknown): value is VaxGuardError {
  if (value instanceof VaxGuardError) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { [BRAND]?: unknown; code?: unknown; message?: unknown };
  return (
    candidate[BRAND] === true &&
    isErrorCode(candidate.code) &&
    typeof candidate.message === 'string'
  );
}

/**
 * Any caught value as a VaxGuardError, at a boundary: a VaxGuardError (from any copy of
 * this library) as it is, anything else as INTERNAL with the generic message and the
 * value kept as `cause` for the log.
 */
export function toVaxGuardError(value: unknown): VaxGuardError {
  if (isVaxGuardError(value)) return value;
  return new VaxGuardError('INTERNAL', INTERNAL_ERROR_MESSAGE, { cause: value });
}
