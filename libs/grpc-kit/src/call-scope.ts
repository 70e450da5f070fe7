import type { Deadline, Metadata } from '@grpc/grpc-js';
import { toVaxGuardError, VaxGuardError, type ErrorCode } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import type { Authenticator } from './auth';
import type { CallContext } from './call-context';
import { CALLER_CANCELLED } from './status';

/** What a call's scope needs of a grpc-js server call, unary or streaming. */
export interface ScopedCall {
  getDeadline(): Deadline;
  on(event: 'cancelled', listener: () => void): unknown;
}

/**
 * How often a running call's access is checked again. A suspension, a partner or API
 * lock, the global lock or a revoked token reaches every service's access registry
 * within a few hundred milliseconds; checking every tenth of a second keeps a stream or a
 * long call of that principal from outliving it by more than a second.
 */
export const ACCESS_RECHECK_MS = 100;

/** Refusals that end a running call: the caller is no longer allowed, not a passing fault. */
const ENDING_CODES: ReadonlySet<ErrorCode> = new Set(['PERMISSION_DENIED', 'UNAUTHENTICATED']);

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
  /**
   * The refusal that ended the call while it ran (a lock, a suspension, a revoked
   * token), if one did: the signal was aborted with it, and the caller gets its status.
   */
  refusal(): VaxGuardError | undefined;
  /** Calls `listener` once if the call is refused while it runs. */
  onRefused(listener: (error: VaxGuardError) => void): void;
  /**
   * Checks the caller's access again every ACCESS_RECHECK_MS until the call is over,
   * and refuses the call when `check` throws a refusal (PERMISSION_DENIED or
   * UNAUTHENTICATED). Any other failure of the check is a passing fault: the call goes
   * on and the next check tries again.
   */
  watchAccess(check: () => Promise<unknown>, logger: Logger): void;
  /** Stops the deadline timer and the access checks once the call is over. */
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
      controller.abort(new VaxGuardError('DEADLINE_EXCEEDED', 'the call reached its deadline'));
    },
    Math.max(0, remainingMs),
  );
  let refusal: VaxGuardError | undefined;
  const refusedListeners: ((error: VaxGuardError) => void)[] = [];
  let recheck: NodeJS.Timeout | undefined;
  let closed = false;
  // Every reason this signal carries is a VaxGuardError, so work abandoned for it (a
  // statement, a call to another service) ends with the reason itself. grpc-js also
  // emits 'cancelled' when the stream closes after the answer went out: a call that is
  // over (closed) was not cancelled, and work it started that others share (a batch of
  // several calls' rows) must not be cut short by its ending.
  call.on('cancelled', () => {
    if (closed) return;
    controller.abort(
      new VaxGuardError('ABORTED', 'the caller cancelled the call; its work was abandoned', {
        reason: CALLER_CANCELLED,
      }),
    );
  });
  const refuse = (error: VaxGuardError): void => {
    if (closed || controller.signal.aborted) return;
    refusal = error;
    controller.abort(error);
    for (const listener of refusedListeners.splice(0)) listener(error);
  };
  return {
    deadline: Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined,
    remainingMs,
    signal: controller.signal,
    deadlinePassed: () => deadlinePassed,
    refusal: () => refusal,
    onRefused: (listener) => {
      if (refusal) listener(refusal);
      else refusedListeners.push(listener);
    },
    watchAccess: (check, logger) => {
      const again = (): void => {
        recheck = setTimeout(() => {
          check().then(
            () => {
              if (!closed && !controller.signal.aborted) again();
            },
            (error: unknown) => {
              const refused = toVaxGuardError(error);
              if (ENDING_CODES.has(refused.code)) {
                refuse(refused);
              } else {
                logger.warn('access re-check failed; the call goes on', { cause: error });
                if (!closed && !controller.signal.aborted) again();
              }
            },
          );
        }, ACCESS_RECHECK_MS);
        recheck.unref();
      };
      again();
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
      clearTimeout(recheck);
    },
  };
}

/**
 * A call's handler context, unary or streaming: refused when the deadline passed before
 * it began, then authenticated by the method's full path (client credentials, the
 * method's token policy, API locks), and authenticated again while it runs, so a lock
 * or suspension that lands meanwhile ends it (`CallScope.watchAccess`).
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
  const logger = options.logger.child({ method, clientId: principal.clientId });
  scope.watchAccess(() => options.authenticate(call.metadata, method), logger);
  return {
    method,
    principal,
    metadata: call.metadata,
    deadline: scope.deadline,
    signal: scope.signal,
    logger,
  };
}
