import { describe, expect, it } from 'vitest';
import { invalidArgument, isVaxGuardError, resourceExhausted, VaxGuardError } from './errors';

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
    // What a second copy's class produces: its own constructor, the same global brand.
    class OtherCopyError extends Error {
      readonly [Symbol.for('vaxguard.error')] = true;
      constructor(
        readonly code: string,
        message: string,
        readonly reason?: string,
      ) {
        super(message);
      }
    }
    const foreign = new OtherCopyError('NOT_FOUND', 'no such OTP transaction', 'TXN');
    expect(foreign).not.toBeInstanceOf(VaxGuardError);
    expect(isVaxGuardError(foreign)).toBe(true);
    expect(isVaxGuardError(new OtherCopyError('TEAPOT', 'not a VaxGuard code'))).toBe(false);
    expect(isVaxGuardError({ code: 'NOT_FOUND', message: 'no brand' })).toBe(false);
    expect(isVaxGuardError(null)).toBe(false);
  });

  it('puts the retry delay on RESOURCE_EXHAUSTED', () => {
    const error = resourceExhausted('too many OTP requests', 30_000);
    expect(error.code).toBe('RESOURCE_EXHAUSTED');
    expect(error.retryAfterMs).toBe(30_000);
  });
});
