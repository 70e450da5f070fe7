import { connect as connectTcp } from 'node:net';
import type pg from 'pg';
import { toVaxGuardError, VaxGuardError } from '@vaxguard/errors';

/**
 * The call a transaction or query is run for, as the pool is told of it (`PoolOptions.
 * callBudget`): when its caller stops waiting, and the signal that the caller has gone.
 */
export interface CallBudget {
  readonly deadline: Date | undefined;
  readonly signal: AbortSignal;
}

/**
 * The longest statement_timeout a call's transaction gets when the call itself has no
 * deadline (the gRPC server cuts every call to 30 s, so this is the same bound, kept
 * for work run on behalf of a call some other way).
 */
export const CALL_STATEMENT_TIMEOUT_CEILING_MS = 30_000;

/** PostgreSQL's query_canceled: a statement_timeout, or a cancel request. */
const QUERY_CANCELED = '57014';

/**
 * The statement_timeout, in whole milliseconds, of a transaction run for a call whose
 * deadline is `deadline`: the time the call has left, rounded up, at most
 * CALL_STATEMENT_TIMEOUT_CEILING_MS. Zero or less: the deadline has passed (PostgreSQL
 * reads 0 as no timeout at all, so such a value must never be set).
 */
export function statementTimeoutMs(deadline: Date | undefined, nowMs: number): number {
  if (deadline === undefined) return CALL_STATEMENT_TIMEOUT_CEILING_MS;
  return Math.min(CALL_STATEMENT_TIMEOUT_CEILING_MS, Math.ceil(deadline.getTime() - nowMs));
}

/**
 * Set with BEGIN, in the same round trip: each of the transaction's statements, and each
 * wait of the transaction for this process between them, ends by the deadline. A
 * transaction left idle past it (a process stalled while it holds locks) is ended by
 * PostgreSQL itself, its locks released, whatever became of the process.
 */
export function statementTimeoutSetting(timeoutMs: number): string {
  const ms = Math.trunc(timeoutMs);
  return `SET LOCAL statement_timeout = ${ms}; SET LOCAL idle_in_transaction_session_timeout = ${ms}`;
}

/** The call's deadline passed before its database work could begin. */
export function deadlinePassedBeforeStart(): VaxGuardError {
  return new VaxGuardError(
    'DEADLINE_EXCEEDED',
    "the call's deadline passed before its database work began",
    { reason: 'STATEMENT_TIMEOUT' },
  );
}

/**
 * What a failure of work run for a call becomes: the signal's own reason when the caller
 * has gone (the deadline, a refusal, its cancellation), DEADLINE_EXCEEDED when PostgreSQL
 * cancelled a statement at the statement_timeout the call's deadline set, never INTERNAL
 * for either; anything else as it was.
 */
export function failureForCall(error: unknown, budget: CallBudget): unknown {
  if (budget.signal.aborted) return toVaxGuardError(budget.signal.reason);
  if ((error as { code?: unknown } | null)?.code === QUERY_CANCELED) {
    return new VaxGuardError(
      'DEADLINE_EXCEEDED',
      "a database statement ran to the call's deadline and was cancelled (its statement_timeout is the time the call has left)",
      { reason: 'STATEMENT_TIMEOUT', cause: error },
    );
  }
  return error;
}

/** What a connected pg client knows of its backend, for a cancel request. */
interface BackendKey {
  readonly host: string;
  readonly port: number;
  readonly processID: number | null;
  readonly secretKey: number | null;
}

/**
 * Asks PostgreSQL to cancel what `client`'s backend is running (the protocol's
 * CancelRequest, on a connection of its own: the client's is busy with the statement).
 * Fire and forget: a cancel that arrives when the backend is idle does nothing, so a
 * client a cancel was sent for is never given to another caller (`release(true)`).
 */
export function requestCancel(client: pg.ClientBase): void {
  const { host, port, processID, secretKey } = client as unknown as BackendKey;
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return;
  const request = Buffer.alloc(16);
  request.writeInt32BE(16, 0);
  request.writeInt32BE(80877102, 4); // the CancelRequest code
  request.writeInt32BE(processID, 8);
  request.writeInt32BE(secretKey, 12);
  const socket = host.startsWith('/')
    ? connectTcp(`${host}/.s.PGSQL.${port}`)
    : connectTcp(port, host);
  socket.on('error', () => undefined);
  socket.once('connect', () => socket.end(request));
}

/**
 * Runs `statements` on `client` for the call with `budget`: when the caller goes (its
 * signal aborts) whatever the client is running is cancelled. Resolves with the result
 * and whether a cancel was sent (then the client must be released broken).
 */
export async function cancellableOnAbort<T>(
  client: pg.ClientBase,
  budget: CallBudget,
  statements: () => Promise<T>,
  state: { cancelSent: boolean },
): Promise<T> {
  // A signal already aborted never fires again: such a caller has its work refused here.
  if (budget.signal.aborted) throw toVaxGuardError(budget.signal.reason);
  const cancel = () => {
    state.cancelSent = true;
    requestCancel(client);
  };
  budget.signal.addEventListener('abort', cancel, { once: true });
  try {
    return await statements();
  } finally {
    budget.signal.removeEventListener('abort', cancel);
  }
}
