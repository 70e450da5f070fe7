import { VaxGuardError } from './errors';

/**
 * The reason of an UNAVAILABLE refusal whose cause is a connection this service could
 * not open or lost (its database, say): nothing about the request; the same call may
 * succeed once the connection is back.
 */
export const DEPENDENCY_UNAVAILABLE = 'DEPENDENCY_UNAVAILABLE';

/** Node's codes for a socket that could not connect, or was cut while in use. */
const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a database connection lost or not yet possible: class 08 (connection
 * exception), and the server shutting down or starting (57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now).
 */
const isConnectionSqlState = (code: string) =>
  /^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code);

/**
 * What node-postgres throws, with no code, when the server side of a connection goes away
 * or a connection cannot be had within its timeout.
 */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /is not queryable$/,
];

/**
 * Whether a thrown value (or one of its causes) is a connection to something this
 * service depends on that could not be opened or was lost: transient, not a fault of
 * the request nor of the code that made it.
 */
export function isConnectionLost(value: unknown): boolean {
  for (let depth = 0, current = value; depth < 5; depth++) {
    if (typeof current !== 'object' || current === null) return false;
    const { code, message, cause } = current as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof code === 'string' && (SOCKET_ERROR_CODES.has(code) || isConnectionSqlState(code)))
      return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.some((pattern) => pattern.test(message)))
      return true;
    current = cause;
  }
  return false;
}

/** A lost connection as a refusal the caller may retry; the cause goes to the log only. */
export function dependencyUnavailable(cause: unknown): VaxGuardError {
  return new VaxGuardError(
    'UNAVAILABLE',
    'a system this call needs cannot be reached at the moment; try again',
    { reason: DEPENDENCY_UNAVAILABLE, cause },
  );
}
