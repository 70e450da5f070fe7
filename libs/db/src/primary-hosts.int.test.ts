import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgresPair, type PostgresPairFixture } from '@vaxguard/testing';
import { connectSession, createPool, withTransaction, type Pool } from './index';

// A pool on a URL naming a primary and its standby (the real pair: pg_auto_failover's
// monitor and two nodes): it writes on the primary whatever the URL's order, and a
// primary that stops taking writes (as a demoted one does) is left, its callers told
// UNAVAILABLE, which they retry. The failover itself, under the platform's load, is the
// chaos suite's (tools/chaos/src/failover.int.test.ts).

const logger = createLogger({ service: 'db-test', sink: new MemoryLogSink() });

describe('a pool on a primary and its standby (real pg_auto_failover pair)', () => {
  let pair: PostgresPairFixture;
  let standbyFirst: string;
  let pool: Pool;

  beforeAll(async () => {
    pair = await startPostgresPair();
    // The standby named first: a pool taking the first host that answers would land there.
    const [a, b] = pair.nodes;
    standbyFirst = pair.url.replace(`${a?.address},${b?.address}`, `${b?.address},${a?.address}`);
    pool = createPool({ connectionString: standbyFirst, applicationName: 'db-test', logger });
    await pool.query('CREATE TABLE written (n int PRIMARY KEY)');
  }, 300_000);
  afterAll(async () => {
    await pool?.end();
    await pair?.stop();
  });

  it('connects where writes are taken, whatever the order of the hosts', async () => {
    const { rows } = await pool.query<{ recovery: boolean }>(
      'SELECT pg_is_in_recovery() AS recovery',
    );
    expect(rows[0]?.recovery).toBe(false);
    await withTransaction(pool, (client) => client.query('INSERT INTO written VALUES (1)'));
    const session = await connectSession({ connectionString: standbyFirst });
    try {
      const { rows: seen } = await session.query<{ n: number }>('SELECT n FROM written');
      expect(seen).toEqual([{ n: 1 }]);
    } finally {
      await session.end();
    }
  });

  it('refuses UNAVAILABLE, retryable, while no host takes writes, and writes again once one does', async () => {
    const primary = await pair.primary();
    if (!primary) throw new Error('no primary');
    const admin = await connectSession({ connectionString: pair.urlOn(primary, pair.url) });
    try {
      // What a primary being demoted does (pg_auto_failover sets it before it promotes).
      await admin.query('ALTER SYSTEM SET default_transaction_read_only = on');
      await admin.query('SELECT pg_reload_conf()');
      await expect
        .poll(
          async () =>
            pool.query('INSERT INTO written VALUES (2) ON CONFLICT DO NOTHING').then(
              () => 'written',
              (error: unknown) => error,
            ),
          { timeout: 10_000 },
        )
        .toSatisfy(
          (error) =>
            isVaxGuardError(error) &&
            error.code === 'UNAVAILABLE' &&
            error.reason === 'DEPENDENCY_UNAVAILABLE',
        );
      // A new connection finds neither host writable.
      const checkout = await pool.connect().then(
        (client) => (client.release(), 'connected'),
        (error: unknown) => error,
      );
      expect(isVaxGuardError(checkout) && checkout.code).toBe('UNAVAILABLE');
    } finally {
      await admin.query('ALTER SYSTEM RESET default_transaction_read_only');
      await admin.query('SELECT pg_reload_conf()');
      await admin.end();
    }
    await expect
      .poll(
        async () =>
          pool.query('INSERT INTO written VALUES (3) ON CONFLICT DO NOTHING').then(
            () => 'written',
            () => 'refused',
          ),
        { timeout: 10_000 },
      )
      .toBe('written');
  });
});
