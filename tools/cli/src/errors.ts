// The command line's one error model: every failure leaves as a CliError carrying its
// exit code, turned from whatever was caught at one boundary (toCliError), the original
// kept as `cause`. Messages name the problem and what to do about it.
import { AUDIT_VERIFY_EXIT, AuditLogCheckError } from '@vaxguard/dev-operator';
import { isVaxGuardError } from '@vaxguard/errors';
import { TlogError } from '@vaxguard/tlog';

/**
 * 0 ok, 1 a check (or the operation) failed, 2 a usage error, 3 the platform is
 * unreachable (for audit verify: the log could not be checked), 4 the audit log failed
 * verification (audit verify only: AUDIT_VERIFY_EXIT).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unreachable: AUDIT_VERIFY_EXIT.couldNotCheck,
  tampered: AUDIT_VERIFY_EXIT.tampered,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command line was used wrongly: exit 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.usage, options);
  }
}

/** A check failed, or the platform refused what was asked: exit 1. */
export class CheckFailedError extends CliError {
  override readonly name = 'CheckFailedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.failed, options);
  }
}

/** The platform (or the description of it) is not there: exit 3. */
export class UnreachableError extends CliError {
  override readonly name = 'UnreachableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.unreachable, options);
  }
}

const UNREACHABLE_SYSTEM_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A socket-level failure (ECONNREFUSED...), also when wrapped by fetch as its cause. */
export function isConnectionFailure(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_SYSTEM_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

const HINT_UNREACHABLE = 'is the platform running? (npx vaxguard status)';

/** Whatever a command threw, as the CliError the command line reports. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof AuditLogCheckError || error instanceof TlogError) {
    return new CheckFailedError(`audit log check failed: ${error.message}`, { cause: error });
  }
  if (isVaxGuardError(error)) {
    if (error.code === 'UNAVAILABLE' || error.code === 'DEADLINE_EXCEEDED') {
      return new UnreachableError(
        `the platform did not answer (${error.code}): ${HINT_UNREACHABLE}`,
        {
          cause: error,
        },
      );
    }
    const reason = error.reason ? `, ${error.reason}` : '';
    return new CheckFailedError(`refused (${error.code}${reason}): ${error.message}`, {
      cause: error,
    });
  }
  if (isConnectionFailure(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new UnreachableError(`cannot connect (${message}): ${HINT_UNREACHABLE}`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CheckFailedError(message, { cause: error });
}
