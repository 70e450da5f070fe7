import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { migrate, MigrationError } from './migrate';
import { createPool, withTransaction, type Pool } from './pool';

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
});
