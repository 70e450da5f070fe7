import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { migrate, MigrationError } from './migrate';
import { createPool, TCP_KEEPALIVE, withTransaction, type Pool } from './pool';
import { DeferredWrites } from './statements';

const logger = createLogger({ service: 'db-test', sink: new MemoryLogSink() });

describe('PostgreSQL access (real server)', () => {
  let postgres: PostgresFixture;
  let pool: Pool;

  beforeAll(async () => {
    postgres = await startPostgres();
    pool = createPool({ connectionString: postgres.url, applicationName: 'db-test', logger });
  });
  afterAll(async () => {
    await pool?.end();
    await postgres?.stop();
  });

  const migrations = [
    {
      id: 'test/0001_accounts',
      sql: 'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)',
    },
    { id: 'test/0002_seed', sql: 'INSERT INTO accounts VALUES (1, 100), (2, 0)' },
  ];

  it('applies migrations once, even when two instances start together', async () => {
    const [first, second] = await Promise.all([
      migrate(pool, migrations, logger),
      migrate(pool, migrations, logger),
    ]);
    expect([...first, ...second].sort()).toEqual(['test/0001_accounts', 'test/0002_seed']);
    expect(await migrate(pool, migrations, logger)).toEqual([]);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM accounts');
    expect(rows[0]!.n).toBe(2);
  });

  it('refuses to start when an applied migration was edited', async () => {
    const edited = [
      migrations[0]!,
      { id: 'test/0002_seed', sql: 'INSERT INTO accounts VALUES (3, 5)' },
    ];
    await expect(migrate(pool, edited, logger)).rejects.toBeInstanceOf(MigrationError);
  });

  it('asks PostgreSQL to probe each session with TCP keepalives, so a vanished client ends', async () => {
    // A session of a process that vanished (a partition, a host gone) would otherwise
    // hold its locks for the kernel's two hours.
    const { rows } = await pool.query<Record<string, string>>(
      `SELECT current_setting('tcp_keepalives_idle') AS idle,
              current_setting('tcp_keepalives_interval') AS interval,
              current_setting('tcp_keepalives_count') AS count`,
    );
    expect(rows[0]).toEqual({
      idle: String(TCP_KEEPALIVE.idleSeconds),
      interval: String(TCP_KEEPALIVE.intervalSeconds),
      count: String(TCP_KEEPALIVE.count),
    });
  });

  it('commits a transaction as a whole or not at all', async () => {
    await withTransaction(pool, async (tx) => {
      await tx.query('UPDATE accounts SET balance = balance - 30 WHERE id = 1');
      await tx.query('UPDATE accounts SET balance = balance + 30 WHERE id = 2');
    });
    await expect(
      withTransaction(pool, async (tx) => {
        await tx.query('UPDATE accounts SET balance = balance - 50 WHERE id = 1');
        throw new Error('transfer refused half-way');
      }),
    ).rejects.toThrow('transfer refused half-way');
    const { rows } = await pool.query('SELECT id, balance FROM accounts ORDER BY id');
    expect(rows).toEqual([
      { id: 1, balance: 70 },
      { id: 2, balance: 30 },
    ]);
  });
  it('takes advisory locks with BEGIN, in order, held until the transaction ends', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const first = new Promise<void>((resolve) => (entered = resolve));
    const holder = withTransaction(
      pool,
      async () => {
        order.push('holder in');
        entered();
        await held;
        order.push('holder out');
      },
      { advisoryLocks: ['test/lock:a', 'test/lock:b'] },
    );
    await first;
    const waiter = withTransaction(
      pool,
      async () => {
        order.push('waiter in');
      },
      { advisoryLocks: ['test/lock:b'] },
    );
    // Long enough for the waiter to have run had the lock not held it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(['holder in']);
    const waiting = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
    );
    expect(waiting.rows[0]!.n).toBe(1);
    release();
    await Promise.all([holder, waiter]);
    expect(order).toEqual(['holder in', 'holder out', 'waiter in']);
  });

  it('deferred writes reach the database as one statement, before a read and before COMMIT', async () => {
    await migrate(
      pool,
      [
        {
          id: 'test/0003_parents',
          sql: `CREATE TABLE parents (id int PRIMARY KEY, name text NOT NULL);
                CREATE TABLE children (id int PRIMARY KEY, parent int NOT NULL REFERENCES parents)`,
        },
      ],
      logger,
    );
    const statements: string[] = [];
    const seen = await withTransaction(pool, async (tx) => {
      const writes = new DeferredWrites();
      const counting = {
        query: ((...args: Parameters<Pool['query']>) => {
          const [config] = args as unknown as [string | { text: string }];
          statements.push(typeof config === 'string' ? config : config.text);
          return (tx.query as (...a: unknown[]) => unknown)(...args);
        }) as Pool['query'],
      };
      // A parent and its child in one statement: the foreign key is checked at its end.
      writes.add({ text: 'INSERT INTO parents VALUES ($1, $2)', values: [1, 'one'] });
      writes.add({ text: 'INSERT INTO children VALUES ($1, $2)', values: [10, 1] });
      writes.add({ text: 'INSERT INTO parents VALUES ($1, $2)', values: [2, 'two'] });
      expect(writes.size).toBe(3);
      await writes.flush(counting);
      expect(writes.size).toBe(0);
      await writes.flush(counting);
      const { rows } = await tx.query<{ n: number }>(
        'SELECT (SELECT count(*) FROM parents) + (SELECT count(*) FROM children) AS n',
      );
      return Number(rows[0]!.n);
    });
    expect(seen).toBe(3);
    expect(statements).toHaveLength(1);
    // A child without its parent fails the whole statement, and the transaction with it.
    await expect(
      withTransaction(pool, async () => undefined, {
        beforeCommit: async (tx) => {
          const writes = new DeferredWrites();
          writes.add({ text: 'INSERT INTO parents VALUES ($1, $2)', values: [3, 'three'] });
          writes.add({ text: 'INSERT INTO children VALUES ($1, $2)', values: [11, 99] });
          await writes.flush(tx);
        },
      }),
    ).rejects.toThrow(/foreign key/);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM parents WHERE id = 3',
    );
    expect(rows[0]!.n).toBe(0);
  });
  it('runs work again after a serialization failure, up to its retries, and then gives up', async () => {
    const failOnce = async (tx: { query: Pool['query'] }, attempts: number[]) => {
      attempts.push(attempts.length + 1);
      if (attempts.length === 1) {
        await tx.query(
          "DO $$ BEGIN RAISE EXCEPTION 'collided' USING ERRCODE = 'serialization_failure'; END $$",
        );
      }
      const { rows } = await tx.query<{ balance: number }>(
        'SELECT balance FROM accounts WHERE id = 1',
      );
      return rows[0]!.balance;
    };
    const retried: number[] = [];
    const balance = await withTransaction(pool, (tx) => failOnce(tx, retried), { retries: 2 });
    expect(typeof balance).toBe('number');
    expect(retried).toEqual([1, 2]);
    const refused: number[] = [];
    await expect(
      withTransaction(pool, (tx) => failOnce(tx, refused), { retries: 0 }),
    ).rejects.toMatchObject({ code: '40001' });
    expect(refused).toEqual([1]);
    // Neither attempt kept a connection: the pool is whole.
    expect(pool.totalCount).toBe(pool.idleCount);
  });
});
