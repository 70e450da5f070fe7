import type { Deadline, Metadata } from '@grpc/grpc-js';
import { VaxGuardError } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import type { Authenticator } from './auth';
import type { CallContext } from './server';

/** What a call's scope needs of a grpc-js server call, unary or streaming. */
export interface ScopedCall {
  getDeadline(): Deadline;
  on(event: 'cancelled', listener: () => void): unknown;
}

/** A call's deadline and the signal that tells its handler to stop. */
export interface CallScope {
  /** When the call must be over: the caller's deadline, cut to the server's longest. */
  readonly deadline: Date | undefined;
  /** Milliseconds left when the call began (zero or less: it is already too late). */
  readonly remainingMs: number;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** Whether the signal was aborted by the deadline rather than by the caller. */
  deadlinePassed(): boolean;
  /** Stops the deadline timer once the call is over. */
  close(): void;
}

/** Opens a call's scope: its deadline at most `maxDurationMs` away, and its abort signal. */
export function openCallScope(call: ScopedCall, maxDurationMs: number): CallScope {
  const controller = new AbortController();
  const requested = call.getDeadline();
  const requestedMs =
    requested instanceof Date
      ? requested.getTime()
      : Number.isFinite(requested)
        ? Number(requested)
        : Infinity;
  const deadlineMs = Math.min(requestedMs, Date.now() + maxDurationMs);
  const remainingMs = deadlineMs - Date.now();
  let deadlinePassed = false;
  const timer = setTimeout(
    () => {
      deadlinePassed = true;
      controller.abort(new Error('deadline exceeded'));
    },
    Math.max(0, remainingMs),
  );
  call.on('cancelled', () => controller.abort(new Error('cancelled by caller')));
  return {
    deadline: Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined,
    remainingMs,
    signal: controller.signal,
    deadlinePassed: () => deadlinePassed,
    close: () => clearTimeout(timer),
  };
}

/**
 * A call's handler context, unary or streaming: refused when the deadline passed before
 * it began, then authenticated by the method's full path (client credentials, the
 * method's token policy, API locks).
 */
export async function callContext(
  call: { readonly metadata: Metadata },
  method: string,
  scope: CallScope,
  options: { readonly authenticate: Authenticator; readonly logger: Logger },
): Promise<CallContext> {
  if (scope.remainingMs <= 0) {
    throw new VaxGuardError('DEADLINE_EXCEEDED', 'the call deadline passed before it started');
  }
  const principal = await options.authenticate(call.metadata, method);
  return {
    method,
    principal,
    metadata: call.metadata,
    deadline: scope.deadline,
    signal: scope.signal,
    logger: options.logger.child({ method, clientId: principal.clientId }),
  };
}
