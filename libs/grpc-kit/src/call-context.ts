import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metadata } from '@grpc/grpc-js';
import type { Logger } from '@vaxguard/logging';
import type { Principal } from './auth';

/** What a handler knows of the call it serves, unary or streaming. */
export interface CallContext {
  /** Full method path, such as `/vaxguard.otp.v1.OtpService/GenerateOtp`. */
  readonly method: string;
  readonly principal: Principal;
  readonly metadata: Metadata;
  /** When the caller stops waiting, if it set a deadline. */
  readonly deadline: Date | undefined;
  /**
   * Aborted when the caller cancels, the deadline passes, or a lock, suspension or
   * revoked token ends the call while it runs (the refusal is the signal's reason).
   */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/**
 * What work done on behalf of a call must respect: when its caller stops waiting, and the
 * signal that the caller has gone. The database (statement_timeout, cancelling a running
 * statement) and the calls to other services (their deadline, their cancellation) take it
 * from the call they serve.
 */
export interface CallBudget {
  readonly deadline: Date | undefined;
  readonly signal: AbortSignal;
}

/**
 * The call a piece of work serves, carried along its async continuations (as a trace
 * context is) so that the pool and the service clients find it without every domain port
 * taking a context argument. The server sets it around each handler; nothing else should.
 */
const servedCall = new AsyncLocalStorage<CallBudget>();

/** Runs `work`, and all it starts, on behalf of the call with `budget`. */
export function runOnBehalfOf<T>(budget: CallBudget, work: () => T): T {
  return servedCall.run(budget, work);
}

/** The budget of the call the current work serves, if it serves one. */
export function currentCallBudget(): CallBudget | undefined {
  return servedCall.getStore();
}

/**
 * Runs `work` on behalf of no call: for work shared by several calls (a batch, a
 * single-flight fetch), which one caller's deadline or departure must not cut short.
 */
export function outsideAnyCall<T>(work: () => T): T {
  return servedCall.exit(work);
}

/**
 * How much of a caller's remaining deadline a call to another service leaves unused: the
 * time for the answer to come back, and for this service to finish and reply, before its
 * own caller stops waiting.
 */
export const DEADLINE_PROPAGATION_MARGIN_MS = 50;

/**
 * The deadline, in milliseconds from `nowMs`, of a call to another service made on behalf
 * of a caller whose deadline is `callerDeadline`: the client's own deadline, cut to what the
 * caller has left less DEADLINE_PROPAGATION_MARGIN_MS. Zero or less: too late to call.
 */
export function outgoingDeadlineMs(
  callerDeadline: Date | undefined,
  nowMs: number,
  ownDeadlineMs: number,
): number {
  if (callerDeadline === undefined) return ownDeadlineMs;
  return Math.min(ownDeadlineMs, callerDeadline.getTime() - nowMs - DEADLINE_PROPAGATION_MARGIN_MS);
}
