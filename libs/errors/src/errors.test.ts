import { describe, expect, it } from 'vitest';
import {
  INTERNAL_ERROR_MESSAGE,
  invalidArgument,
  isErrorCode,
  isVaxGuardError,
  resourceExhausted,
  toVaxGuardError,
  VaxGuardError,
} from './errors';

// What a second copy of this library (a bundle beside node_modules, another version)
// defines: its own class, unrelated to ours for `instanceof`, with the same global brand.
const SECOND_COPY_BRAND: unique symbol = Symbol.for('vaxguard.error') as never;
class SecondCopyError extends Error {
  readonly [SECOND_COPY_BRAND] = true;
  constructor(
    readonly code: string,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

describe('VaxGuardError', () => {
  it('carries its status code, reason and cause', () => {
    const cause = new Error('socket closed');
    const error = invalidArgument('mobile must be a 10-digit Indian number', {
      reason: 'BAD_MOBILE',
      cause,
    });
    expect(error).toBeInstanceOf(VaxGuardError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.reason).toBe('BAD_MOBILE');
    expect(error.cause).toBe(cause);
    expect(isVaxGuardError(error)).toBe(true);
    expect(isVaxGuardError(cause)).toBe(false);
  });

  it('is recognised when it comes from another copy of the library (a bundle, a second version)', () => {
    const foreign = new SecondCopyError('NOT_FOUND', 'no such OTP transaction', 'TXN');
    expect(foreign).not.toBeInstanceOf(VaxGuardError);
    expect(isVaxGuardError(foreign)).toBe(true);
    expect(toVaxGuardError(foreign)).toBe(foreign);
    expect(isVaxGuardError(new SecondCopyError('TEAPOT', 'not a VaxGuard code'))).toBe(false);
    expect(isVaxGuardError({ code: 'NOT_FOUND', message: 'no brand' })).toBe(false);
    expect(isVaxGuardError(null)).toBe(false);
  });

  it('puts the retry delay on RESOURCE_EXHAUSTED', () => {
    const error = resourceExhausted('too many OTP requests', 30_000);
    expect(error.code).toBe('RESOURCE_EXHAUSTED');
    expect(error.retryAfterMs).toBe(30_000);
  });

  it('turns anything else caught into INTERNAL with the generic message, keeping it as cause', () => {
    const driverError = new Error('password authentication failed for user "vaxguard"');
    const internal = toVaxGuardError(driverError);
    expect([internal.code, internal.message, internal.cause]).toEqual([
      'INTERNAL',
      INTERNAL_ERROR_MESSAGE,
      driverError,
    ]);
    const refusal = invalidArgument('bad');
    expect(toVaxGuardError(refusal)).toBe(refusal);
  });

  it('knows its codes: the gRPC status names it uses, and nothing else', () => {
    expect(isErrorCode('PERMISSION_DENIED')).toBe(true);
    expect(isErrorCode('UNKNOWN')).toBe(false);
    expect(isErrorCode(14)).toBe(false);
  });
});
