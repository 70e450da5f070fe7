import { describe, expect, it } from 'vitest';
import { invalidArgument, resourceExhausted, unavailable } from '@vaxguard/errors';
import { DEFAULT_RETRY_POLICY, retryDelayMs } from './service-client';

const plenty = { idempotent: true, remainingMs: 60_000 };
const half = () => 0.5;

describe('retryDelayMs', () => {
  it('backs off exponentially with full jitter on UNAVAILABLE, up to the cap', () => {
    const down = unavailable('connection refused');
    const delays = [1, 2, 3].map((attempt) =>
      retryDelayMs(down, attempt, plenty, DEFAULT_RETRY_POLICY, half),
    );
    expect(delays).toEqual([50, 100, 200]);
    const capped = { ...DEFAULT_RETRY_POLICY, maxAttempts: 20 };
    expect(retryDelayMs(down, 10, plenty, capped, () => 0.999)).toBeLessThanOrEqual(
      capped.maxBackoffMs,
    );
  });

  it('never retries a call that is not idempotent after UNAVAILABLE', () => {
    expect(
      retryDelayMs(unavailable('reset'), 1, { idempotent: false, remainingMs: 60_000 }),
    ).toBeUndefined();
  });

  it('retries RESOURCE_EXHAUSTED only after its retry-after, and only within the deadline', () => {
    const busy = resourceExhausted('too many requests', 1_500);
    expect(
      retryDelayMs(
        busy,
        1,
        { idempotent: false, remainingMs: 5_000 },
        DEFAULT_RETRY_POLICY,
        () => 0,
      ),
    ).toBe(1_500);
    expect(retryDelayMs(busy, 1, { idempotent: true, remainingMs: 1_000 })).toBeUndefined();
    const noHint = resourceExhausted('too many requests', 0);
    expect(retryDelayMs({ ...noHint, retryAfterMs: undefined }, 1, plenty)).toBeUndefined();
  });

  it('gives up after the last attempt, and never retries any other code', () => {
    expect(
      retryDelayMs(unavailable('down'), DEFAULT_RETRY_POLICY.maxAttempts, plenty),
    ).toBeUndefined();
    expect(retryDelayMs(invalidArgument('bad'), 1, plenty)).toBeUndefined();
  });
});
