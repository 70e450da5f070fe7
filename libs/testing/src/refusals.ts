import { status, type ServiceError } from '@grpc/grpc-js';
import { isVaxGuardError } from '@vaxguard/errors';
import { readStatusDetails } from '@vaxguard/grpc-kit';
import { findSensitive } from '@vaxguard/pii';

/** How a call was refused, as a caller sees it: the status, its message and its details. */
export interface Refusal {
  readonly code: number;
  readonly message: string;
  readonly reason?: string;
  readonly retryAfterMs?: number;
}

/**
 * A refusal from a raw grpc-js client (a ServiceError), or from the service client kit
 * (the same VaxGuardError the server threw, rebuilt from its status).
 */
function toRefusal(error: unknown): Refusal {
  if (isVaxGuardError(error)) {
    return {
      code: status[error.code],
      message: error.message,
      ...(error.reason === undefined ? {} : { reason: error.reason }),
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  }
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
 * Every place in `text` where one of the given raw values (mobiles, identity numbers),
 * one of the given codes, or anything the PII scanner recognises appears. Codes count
 * only as whole numbers (not inside a longer run of letters or digits such as a hex id,
 * where a few digits turn up by chance).
 */
export function leaks(
  text: string,
  values: Iterable<string>,
  codes: Iterable<string> = [],
): string[] {
  const found: string[] = [];
  for (const value of values) if (text.includes(value)) found.push(`value ${value}`);
  for (const code of codes) {
    if (new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text)) found.push(`code ${code}`);
  }
  for (const { kind, match } of findSensitive(text)) found.push(`${kind} ${match}`);
  return found;
}
