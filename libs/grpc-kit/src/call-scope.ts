import type { Deadline } from '@grpc/grpc-js';

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
