// The kit's own integration tests' helpers (the kit cannot import @vaxguard/testing,
// which is built on it): how a call through the service client kit was refused.
import { isVaxGuardError, type VaxGuardError } from '@vaxguard/errors';

/** The error a unary call was refused with; fails the test if it was answered. */
export async function refusal(promise: Promise<unknown>): Promise<VaxGuardError> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

/**
 * The error a server stream ended with, collecting what it sent before into `received`;
 * fails the test if the stream ended normally.
 */
export async function streamRefusal(
  messages: AsyncIterable<unknown>,
  received: unknown[] = [],
): Promise<VaxGuardError> {
  return refusal(
    (async () => {
      for await (const message of messages) received.push(message);
    })(),
  );
}
