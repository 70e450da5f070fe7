import { describe, expect, it } from 'vitest';
import { invalidArgument, resourceExhausted, unavailable, VaxGuardError } from '@vaxguard/errors';
import { DEFAULT_RETRY_POLICY, retryDelayMs, retryPolicyProblems } from './retry';

const plenty = { idempotent: true, remainingMs: 60_000 };
const policy = { maxAttempts: 10, initialBackoffMs: 100, maxBackoffMs: 1_000, multiplier: 2 };
const highest = () => 0.999_999;

describe('retryDelayMs', () => {
  it('backs off exponentially with full jitter on UNAVAILABLE, up to the cap', () => {
    const down = unavailable('connection refused');
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) =>
      retryDelayMs(down, attempt, plenty, policy, highest),
    );
    expect(ceilings).toEqual([99, 199, 399, 799, 999, 999]);
    // Full jitter: anywhere from no wait at all to the ceiling.
    expect(retryDelayMs(down, 3, plenty, policy, () => 0)).toBe(0);
    expect(retryDelayMs(down, 3, plenty, policy, () => 0.5)).toBe(200);
  });

  it('never retries a call that is not idempotent after UNAVAILABLE', () => {
    expect(
      retryDelayMs(unavailable('reset'), 1, { idempotent: false, remainingMs: 60_000 }),
    ).toBeUndefined();
  });

  it('retries RESOURCE_EXHAUSTED only after its retry-after, and only within the deadline', () => {
    const busy = resourceExhausted('too many requests', 1_500);
    const notIdempotent = { idempotent: false, remainingMs: 5_000 };
    expect(retryDelayMs(busy, 1, notIdempotent, policy, () => 0)).toBe(1_500);
    const jittered = retryDelayMs(busy, 1, notIdempotent, policy, highest) ?? 0;
    expect(jittered).toBeGreaterThanOrEqual(1_500);
    expect(jittered).toBeLessThan(1_500 + policy.initialBackoffMs);
    expect(retryDelayMs(busy, 1, { idempotent: true, remainingMs: 1_000 })).toBeUndefined();
    expect(retryDelayMs(busy, 1, { idempotent: true, remainingMs: 1_500 }, policy, () => 0)).toBe(
      undefined,
    );
    const noHint = new VaxGuardError('RESOURCE_EXHAUSTED', 'message larger than max');
    expect(retryDelayMs(noHint, 1, plenty)).toBeUndefined();
  });

  it('gives up after the last attempt, and never retries any other code', () => {
    const down = unavailable('down');
    expect(retryDelayMs(down, DEFAULT_RETRY_POLICY.maxAttempts - 1, plenty)).toBeDefined();
    expect(retryDelayMs(down, DEFAULT_RETRY_POLICY.maxAttempts, plenty)).toBeUndefined();
    for (const refusal of [
      invalidArgument('bad'),
      new VaxGuardError('DEADLINE_EXCEEDED', 'deadline exceeded'),
      new VaxGuardError('INTERNAL', 'internal error'),
      new VaxGuardError('ABORTED', 'conflict', { retryAfterMs: 10 }),
    ]) {
      expect([refusal.code, retryDelayMs(refusal, 1, plenty)]).toEqual([refusal.code, undefined]);
    }
  });
});

describe('retryPolicyProblems', () => {
  it('accepts the default policy and names every bad value', () => {
    expect(retryPolicyProblems(DEFAULT_RETRY_POLICY)).toEqual([]);
    expect(
      retryPolicyProblems({
        maxAttempts: 0.5,
        initialBackoffMs: 100,
        maxBackoffMs: Infinity,
        multiplier: 0.5,
      }),
    ).toEqual([
      'retry.maxAttempts must be a whole number of at least 1 (got 0.5)',
      'retry backoffs must be positive and finite, the maximum at least the initial (got 100 and Infinity)',
      'retry.multiplier must be a finite number of at least 1 (got 0.5)',
    ]);
  });
});
