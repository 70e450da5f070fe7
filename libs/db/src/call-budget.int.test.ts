import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVaxGuardError, VaxGuardError } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import type { CallBudget } from './call-budget';
import { createPool, withTransaction, type Pool } from './pool';

const logger = createLogger({ service: 'db-call-test', sink: new MemoryLogSink() });
const APPLICATION = 'db-call-test';
/** A generous functional bound: well past every deadline below, far short of 30 s. */
const PROMPTLY_MS = 5_000;

// Stands in for grpc-kit's currentCallBudget: the call a piece of work is done for.
const serving = new AsyncLocalStorage<CallBudget>();

/** A call with `deadlineMs` left whose signal aborts at its deadline, as a server's does. */
function call(deadlineMs: number, options: { abortAtDeadline?: boolean } = {}) {
  const controller = new AbortController();
  const timer =
    options.abortAtDeadline === false
      ? undefined
      : setTimeout(
          () =>
            controller.abort(
              new VaxGuardError('DEADLINE_EXCEEDED', 'the call reached its deadline'),
            ),
          deadlineMs,
        );
  const budget: CallBudget = {
    deadline: new Date(Date.now() + deadlineMs),
    signal: controller.signal,
  };
  return {
    run: <T>(work: () => Promise<T>) => serving.run(budget, work),
    cancel: () =>
      controller.abort(
        new VaxGuardError('ABORTED', 'the caller cancelled the call; its work was abandoned', {
          reason: 'CALLER_CANCELLED',
        }),
      ),
    [Symbol.dispose]: () => clearTimeout(timer),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<VaxGuardError> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return error;
    throw error;
  }
  throw new Error('expected the work to fail');
}

describe('work done for a call (real PostgreSQL)', () => {
  let postgres: PostgresFixture;
  let pool: Pool;
  let holder: pg.Client;
  let observer: pg.Client;

  beforeAll(async () => {
    postgres = await startPostgres();
    pool = createPool({
      connectionString: postgres.url,
      applicationName: APPLICATION,
      logger,
      callBudget: () => serving.getStore(),
    });
    holder = new pg.Client({ connectionString: postgres.url, application_name: 'lock-holder' });
    observer = new pg.Client({ connectionString: postgres.url, application_name: 'observer' });
    await Promise.all([holder.connect(), observer.connect()]);
    await pool.query('CREATE TABLE doses (id int PRIMARY KEY, note text NOT NULL)');
    await pool.query("INSERT INTO doses VALUES (1, 'first')");
  });
  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await observer?.end().catch(() => undefined);
    await pool?.end();
    await postgres?.stop();
  });

  /** The pool's backends doing anything but waiting idle for their next transaction. */
  async function busyBackends(): Promise<{ state: string; query: string }[]> {
    const { rows } = await observer.query<{ state: string; query: string }>(
      "SELECT state, query FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'",
      [APPLICATION],
    );
    return rows;
  }

  /** Polls, within PROMPTLY_MS, until the pool holds no running statement or open transaction. */
  async function expectNothingLeftBehind(): Promise<void> {
    const until = Date.now() + PROMPTLY_MS;
    let busy = await busyBackends();
    while (busy.length > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      busy = await busyBackends();
    }
    expect(busy).toEqual([]);
  }

  /** Waits until a backend of the pool runs a statement matching `pattern`. */
  async function running(pattern: RegExp): Promise<void> {
    const until = Date.now() + PROMPTLY_MS;
    while (Date.now() < until) {
      if ((await busyBackends()).some((row) => row.state === 'active' && pattern.test(row.query)))
        return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no statement like ${pattern} started`);
  }

  it('ends a statement blocked by a held lock DEADLINE_EXCEEDED at the call’s deadline, holding nothing after', async () => {
    await holder.query('BEGIN');
    await holder.query("UPDATE doses SET note = 'held' WHERE id = 1");
    try {
      // The signal never aborts: the statement_timeout set with BEGIN alone ends it.
      using blocked = call(400, { abortAtDeadline: false });
      const started = Date.now();
      const failure = await failureOf(
        blocked.run(() =>
          withTransaction(pool, async (tx) => {
            await tx.query("UPDATE doses SET note = 'the call' WHERE id = 1");
          }),
        ),
      );
      expect(failure.code).toBe('DEADLINE_EXCEEDED');
      expect(failure.reason).toBe('STATEMENT_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(PROMPTLY_MS);
      await expectNothingLeftBehind();
    } finally {
      await holder.query('COMMIT');
    }
    const { rows } = await pool.query<{ note: string }>('SELECT note FROM doses WHERE id = 1');
    expect(rows).toEqual([{ note: 'held' }]);
    const locks = await observer.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted',
    );
    expect(locks.rows[0]!.n).toBe(0);
  });

  it('bounds the wait for an advisory lock taken with BEGIN by the same deadline', async () => {
    await holder.query("SELECT pg_advisory_lock(hashtextextended('beneficiary:b1', 0))");
    try {
      using blocked = call(400, { abortAtDeadline: false });
      const failure = await failureOf(
        blocked.run(() =>
          withTransaction(pool, async () => 'locked', { advisoryLocks: ['beneficiary:b1'] }),
        ),
      );
      expect([failure.code, failure.reason]).toEqual(['DEADLINE_EXCEEDED', 'STATEMENT_TIMEOUT']);
      await expectNothingLeftBehind();
    } finally {
      await holder.query("SELECT pg_advisory_unlock(hashtextextended('beneficiary:b1', 0))");
    }
  });

  it('ends a transaction its process leaves idle past the deadline: PostgreSQL releases its locks', async () => {
    // The signal never aborts: as if the process stalled, only PostgreSQL acts.
    using stalled = call(400, { abortAtDeadline: false });
    const order: string[] = [];
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const work = stalled.run(() =>
      withTransaction(pool, async (tx) => {
        await tx.query("UPDATE doses SET note = 'stalled' WHERE id = 1");
        holding();
        await resumed;
        order.push('stalled work resumed');
        await tx.query('SELECT 1');
      }),
    );
    const failed = work.then(
      () => 'committed',
      () => 'failed',
    );
    // Another session waits for the row the stalled transaction holds, and gets it
    // while that transaction's process is still stalled.
    await held;
    await holder.query("SET lock_timeout = '10s'");
    await holder.query("UPDATE doses SET note = 'another session' WHERE id = 1");
    await holder.query('RESET lock_timeout');
    order.push('row taken by another session');
    resume();
    expect(await failed).toBe('failed');
    expect(order).toEqual(['row taken by another session', 'stalled work resumed']);
    await expectNothingLeftBehind();
  });

  it('cancels the running statement of a call whose caller cancels, and rolls its transaction back', async () => {
    using cancelled = call(60_000);
    const work = cancelled.run(() =>
      withTransaction(pool, async (tx) => {
        await tx.query("INSERT INTO doses VALUES (2, 'abandoned')");
        await tx.query('SELECT pg_sleep(30)');
      }),
    );
    const failed = failureOf(work);
    await running(/pg_sleep/);
    cancelled.cancel();
    const failure = await failed;
    expect(failure.code).toBe('ABORTED');
    expect(failure.reason).toBe('CALLER_CANCELLED');
    await expectNothingLeftBehind();
    const { rows } = await pool.query('SELECT id FROM doses WHERE id = 2');
    expect(rows).toEqual([]);
  });

  it('does not commit for a caller that went between statements', async () => {
    using gone = call(60_000);
    const failure = await failureOf(
      gone.run(() =>
        withTransaction(pool, async (tx) => {
          await tx.query("INSERT INTO doses VALUES (3, 'decided')");
          gone.cancel();
        }),
      ),
    );
    expect(failure.reason).toBe('CALLER_CANCELLED');
    const { rows } = await pool.query('SELECT id FROM doses WHERE id = 3');
    expect(rows).toEqual([]);
  });

  it('cancels a query on the pool itself at the call’s deadline', async () => {
    using short = call(300);
    const failure = await failureOf(short.run(() => pool.query('SELECT pg_sleep(30)')));
    expect(failure.code).toBe('DEADLINE_EXCEEDED');
    await expectNothingLeftBehind();
  });

  it('starts no work for a call whose deadline has passed, and commits work for a live one', async () => {
    using late = call(0, { abortAtDeadline: false });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const failure = await failureOf(
      late.run(() =>
        withTransaction(pool, (tx) => tx.query("INSERT INTO doses VALUES (4, 'late')")),
      ),
    );
    expect(failure.code).toBe('DEADLINE_EXCEEDED');
    using live = call(10_000);
    await live.run(() =>
      withTransaction(pool, (tx) => tx.query("INSERT INTO doses VALUES (5, 'in time')")),
    );
    const { rows } = await pool.query<{ id: number }>('SELECT id FROM doses WHERE id IN (4, 5)');
    expect(rows).toEqual([{ id: 5 }]);
    // Every connection a cancel was sent on was closed, not lent again: the pool is whole.
    expect(pool.totalCount).toBe(pool.idleCount);
  });
});
