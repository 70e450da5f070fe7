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

  it('puts the retry delay on RESOURCE_EXHAUSTED', () => {
    const error = resourceExhausted('too many OTP requests', 30_000);
    expect(error.code).toBe('RESOURCE_EXHAUSTED');
    expect(error.retryAfterMs).toBe(30_000);
  });
});
