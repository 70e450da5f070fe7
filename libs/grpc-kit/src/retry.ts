import type { ErrorCode, VaxGuardError } from '@vaxguard/errors';

/** How a failed call is tried again: exponential backoff with full jitter, bounded. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** The ceiling of the first backoff; each later ceiling is `multiplier` times the last. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  multiplier: 2,
};

/** The only codes ever retried; every other refusal is an answer. */
export const RETRYABLE_CODES: readonly ErrorCode[] = ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'];

/** What a retry decision needs to know about the call. */
export interface RetryContext {
  /** Whether applying the call twice does no harm. */
  readonly idempotent: boolean;
  /** Time left before the call's overall deadline. */
  readonly remainingMs: number;
}

/**
 * How long to wait before attempt `attempt + 1` after `error`, or undefined to give up
 * and report it. UNAVAILABLE is retried only for an idempotent call: the request may
 * have reached the server before the connection failed (grpc-js itself retries, at no
 * cost to idempotency, the attempts it knows never reached the server).
 * RESOURCE_EXHAUSTED is retried only when the server said when (its retry-after) and
 * that fits in the time left: the server refused before doing anything, so waiting as
 * told is not a blind retry. A delay that would end at or past the deadline gives up.
 */
export function retryDelayMs(
  error: Pick<VaxGuardError, 'code' | 'retryAfterMs'>,
  attempt: number,
  call: RetryContext,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number | undefined {
  if (attempt >= policy.maxAttempts || !RETRYABLE_CODES.includes(error.code)) return undefined;
  let delay: number;
  if (error.code === 'UNAVAILABLE') {
    if (!call.idempotent) return undefined;
    delay = Math.floor(random() * backoffCeilingMs(attempt, policy));
  } else if (error.retryAfterMs !== undefined) {
    // A little jitter on top, so that callers told the same time do not return together.
    delay = error.retryAfterMs + Math.floor(random() * policy.initialBackoffMs);
  } else {
    return undefined;
  }
  return delay < call.remainingMs ? delay : undefined;
}

/** The most the wait after attempt `attempt` may be; full jitter draws below it. */
function backoffCeilingMs(attempt: number, policy: RetryPolicy): number {
  return Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * policy.multiplier ** (attempt - 1),
  );
}

/** What is wrong with a retry policy, one sentence each; empty when it is usable. */
export function retryPolicyProblems(policy: RetryPolicy): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    problems.push(
      `retry.maxAttempts must be a whole number of at least 1 (got ${policy.maxAttempts})`,
    );
  }
  if (
    !(policy.initialBackoffMs > 0) ||
    !Number.isFinite(policy.maxBackoffMs) ||
    !(policy.maxBackoffMs >= policy.initialBackoffMs)
  ) {
    problems.push(
      `retry backoffs must be positive and finite, the maximum at least the initial (got ${policy.initialBackoffMs} and ${policy.maxBackoffMs})`,
    );
  }
  if (!(policy.multiplier >= 1) || !Number.isFinite(policy.multiplier)) {
    problems.push(
      `retry.multiplier must be a finite number of at least 1 (got ${policy.multiplier})`,
    );
  }
  return problems;
}
