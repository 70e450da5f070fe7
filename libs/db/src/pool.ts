import { randomInt } from 'node:crypto';
import pg from 'pg';
import { toVaxGuardError } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import {
  cancellableOnAbort,
  deadlinePassedBeforeStart,
  failureForCall,
  statementTimeoutMs,
  statementTimeoutSetting,
  type CallBudget,
} from './call-budget';
import {
  followPrimary,
  HostSelector,
  multiHostTarget,
  primaryFollowingClient,
} from './primary-hosts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolOptions {
  /**
   * A postgres:// URL; with several hosts (`postgres://u:p@h1:5432,h2:5432/db?
   * target_session_attrs=read-write`, libpq's form) the pool connects to the one that
   * takes writes and follows it when a failover moves it (primary-hosts.ts).
   */
  readonly connectionString: string;
  readonly applicationName: string;
  readonly max?: number;
  readonly logger: Logger;
  /**
   * The call the current work is done for, if any (grpc-kit's `currentCallBudget`): its
   * transactions and queries end by its deadline and are cancelled when its caller goes.
   */
  readonly callBudget?: () => CallBudget | undefined;
}

/**
 * A pool whose work, when it is done for a call (`callBudget`), is bounded by that call:
 * a transaction gets the call's remaining deadline as its statement_timeout, and any
 * statement running when the caller goes (cancelled, past its deadline, refused) is
 * cancelled. A query on the pool itself (not in a transaction) is cancelled the same way
 * when the signal aborts, which the call's deadline does too; it sets no timeout, which
 * would cost a round trip of its own.
 */
class CallAwarePool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    readonly callBudget: () => CallBudget | undefined,
  ) {
    super(config);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- applied to this pool below
    const plainQuery = pg.Pool.prototype.query as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      const budget = callBudget();
      // Callbacks and submittables (cursors, streams) run as pg runs them.
      const submittable = typeof (args[0] as { submit?: unknown } | null)?.submit === 'function';
      if (!budget || submittable || typeof args.at(-1) === 'function') {
        return plainQuery.apply(this, args);
      }
      return queryForCall(this, budget, args);
    }) as pg.Pool['query'];
  }
}

async function queryForCall(
  pool: pg.Pool,
  budget: CallBudget,
  args: unknown[],
): Promise<pg.QueryResult> {
  const client = await connectForCall(pool, budget);
  const state = { cancelSent: false };
  try {
    return await cancellableOnAbort(
      client,
      budget,
      () => (client.query as (...a: unknown[]) => Promise<pg.QueryResult>)(...args),
      state,
    );
  } catch (error) {
    throw failureForCall(error, budget);
  } finally {
    client.release(state.cancelSent);
  }
}

/**
 * A client from the pool for work done for a call: no wait for one once the caller has
 * gone (a client that arrives after it is given back at once).
 */
async function connectForCall(pool: pg.Pool, budget: CallBudget): Promise<pg.PoolClient> {
  const { signal } = budget;
  if (signal.aborted) throw toVaxGuardError(signal.reason);
  const connecting = pool.connect();
  let onAbort = (): void => undefined;
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => reject(toVaxGuardError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([connecting, abandoned]);
  } catch (error) {
    connecting.then(
      (client) => client.release(),
      () => undefined,
    );
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The call a pool's current work is done for, if the pool knows of calls. */
function callBudgetOf(pool: pg.Pool): CallBudget | undefined {
  return pool instanceof CallAwarePool ? pool.callBudget() : undefined;
}

/**
 * TCP keepalives on every database connection, at both ends: silent for `idleSeconds`,
 * then a probe every `intervalSeconds`, dead after `count` unanswered (10 + 5 × 3 = 25 s).
 */
export const TCP_KEEPALIVE = { idleSeconds: 10, intervalSeconds: 5, count: 3 } as const;

export function createPool(options: PoolOptions): pg.Pool {
  const config: pg.PoolConfig = {
    connectionString: options.connectionString,
    application_name: options.applicationName,
    max: options.max ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // Both ends notice a peer that vanished without a word (a partition, a host gone):
    // this process through its socket's keepalives, PostgreSQL through the session's own,
    // so a dead instance's session, and any lock it held (the outbox relay's leadership),
    // ends in about half a minute instead of the kernel's two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: TCP_KEEPALIVE.idleSeconds * 1000,
    options: [
      `-c tcp_keepalives_idle=${TCP_KEEPALIVE.idleSeconds}`,
      `-c tcp_keepalives_interval=${TCP_KEEPALIVE.intervalSeconds}`,
      `-c tcp_keepalives_count=${TCP_KEEPALIVE.count}`,
    ].join(' '),
  };
  const target = multiHostTarget(options.connectionString);
  const selector = target ? new HostSelector(target.hosts) : undefined;
  if (target && selector) config.Client = primaryFollowingClient(target, selector);
  const pool = options.callBudget
    ? new CallAwarePool(config, options.callBudget)
    : new pg.Pool(config);
  if (selector) followPrimary(pool, selector);
  // An idle client losing its connection must not crash the process; the pool
  // replaces it on the next checkout. (pg-pool hangs the whole client on the error, its
  // backend's cancel key included: not for the log.)
  pool.on('error', (error) => {
    delete (error as Error & { client?: unknown }).client;
    options.logger.warn('idle database client failed', { err: error });
  });
  // Nor a client checked out when its connection is lost (a cut network, a restarted
  // server, mid-transaction or mid-query): pg fails its queries, and then emits 'error'
  // on the client, which with no listener of its own ends the process. The failed
  // queries say what happened; the pool drops the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export interface TransactionOptions {
  readonly isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /** Retries on serialization failure or deadlock; the work must be safe to redo. */
  readonly retries?: number;
  /**
   * Transaction-scoped advisory locks (by name, hashed to a 64-bit key) taken in this
   * order with the BEGIN itself, in one round trip, before the work runs. Every
   * transaction that takes several of the same locks must take them in the same order.
   */
  readonly advisoryLocks?: readonly string[];
  /** Runs after the work and before COMMIT (to flush deferred writes, say). */
  readonly beforeCommit?: (client: pg.PoolClient) => Promise<void>;
  /**
   * The call this transaction is run for, instead of the one the pool finds; `null` for
   * none, for work several calls share (a batch), which one caller's leaving must not end.
   */
  readonly callBudget?: CallBudget | null;
}

/**
 * `BEGIN`, the statement_timeout of a call's transaction and the advisory locks as one
 * simple query (its statements run in order): the timeout costs no round trip of its
 * own, and bounds the waits for the locks too.
 */
function beginStatement(
  client: pg.PoolClient,
  options: TransactionOptions,
  timeoutMs: number | undefined,
): string {
  const begin = `BEGIN ISOLATION LEVEL ${options.isolation ?? 'READ COMMITTED'}`;
  const timeout = timeoutMs === undefined ? [] : [statementTimeoutSetting(timeoutMs)];
  // One lock per statement: each waits for its lock before the next asks.
  const taken = (options.advisoryLocks ?? []).map(
    (name) => `SELECT pg_advisory_xact_lock(hashtextextended(${client.escapeLiteral(name)}, 0))`,
  );
  return [begin, ...timeout, ...taken].join(';\n');
}

/**
 * Runs `work` in one transaction: commits when it resolves, rolls back when it throws.
 *
 * Run for a call (the pool's `callBudget`, or `options.callBudget`), its statements end
 * by the call's deadline (statement_timeout, set with BEGIN), a statement running when
 * the caller goes is cancelled, and a transaction whose caller has gone is rolled back
 * rather than committed: the caller was told it failed. A statement PostgreSQL cancels at
 * the deadline is DEADLINE_EXCEEDED STATEMENT_TIMEOUT; work abandoned for a caller that
 * left ends with the signal's reason. Neither holds a lock or a connection afterwards.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const budget =
    options.callBudget === undefined ? callBudgetOf(pool) : (options.callBudget ?? undefined);
  for (let attempt = 0; ; attempt++) {
    const client = budget ? await connectForCall(pool, budget) : await pool.connect();
    const timeoutMs = budget ? statementTimeoutMs(budget.deadline, Date.now()) : undefined;
    if (timeoutMs !== undefined && timeoutMs <= 0) {
      client.release();
      throw deadlinePassedBeforeStart();
    }
    const state = { cancelSent: false };
    let broken = false;
    let retry = false;
    const transaction = async (): Promise<T> => {
      await client.query(beginStatement(client, options, timeoutMs));
      const result = await work(client);
      await options.beforeCommit?.(client);
      if (budget?.signal.aborted) throw toVaxGuardError(budget.signal.reason);
      await client.query('COMMIT');
      return result;
    };
    try {
      return budget
        ? await cancellableOnAbort(client, budget, transaction, state)
        : await transaction();
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      const sqlstate = (error as { code?: unknown }).code;
      if (
        attempt < (options.retries ?? 0) &&
        !budget?.signal.aborted &&
        typeof sqlstate === 'string' &&
        RETRYABLE_SQLSTATES.has(sqlstate)
      ) {
        retry = true;
      } else {
        throw budget ? failureForCall(error, budget) : error;
      }
    } finally {
      // A client a cancel was sent for might see it land on its next statement: it is
      // closed rather than given to another caller.
      client.release(broken || state.cancelSent);
    }
    // A short random pause, doubling each time and holding no connection, so the
    // transactions that collided do not meet again at once.
    if (retry) await new Promise((resolve) => setTimeout(resolve, randomInt(5, 20) * 2 ** attempt));
  }
}
