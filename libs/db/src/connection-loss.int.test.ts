import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionLost } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  startFaultProxy,
  startPostgres,
  type FaultProxy,
  type PostgresFixture,
} from '@vaxguard/testing';
import { createPool, withTransaction, type Pool } from './pool';

// The network to PostgreSQL cut under a pool (a fault proxy between them): the work
// in flight fails, the process lives on, and the pool serves again once it is back.

const logs = new MemoryLogSink();
const logger = createLogger({ service: 'db-test', sink: logs });

describe('a pool whose connection to PostgreSQL is lost (real server, real sockets)', () => {
  let postgres: PostgresFixture;
  let proxy: FaultProxy;
  let pool: Pool;

  beforeAll(async () => {
    postgres = await startPostgres();
    const direct = new URL(postgres.url);
    proxy = await startFaultProxy({ target: direct.host, name: 'PostgreSQL' });
    const proxied = new URL(direct);
    proxied.host = proxy.address;
    pool = createPool({ connectionString: proxied.toString(), applicationName: 'db-test', logger });
  });
  afterAll(async () => {
    await pool?.end();
    await proxy?.stop();
    await postgres?.stop();
  });

  for (const mode of ['refuse', 'blackhole'] as const) {
    it(`fails a transaction whose connection is cut (${mode}) without ending the process, and serves again after`, async () => {
      let cutWhileHeld: Promise<void> | undefined;
      const transaction = withTransaction(pool, async (tx) => {
        await tx.query('SELECT 1');
        // The client is checked out and idle between statements when its connection
        // goes: an 'error' event on it with no listener would end this process (and
        // vitest would report it as an unhandled error).
        cutWhileHeld = proxy.cut(mode);
        await cutWhileHeld;
        if (mode === 'blackhole') {
          // The next statement hangs in the partition, and fails once the far end has
          // forgotten the connection (the proxy resets what it held when restored).
          setTimeout(() => void proxy.restore(), 300);
        }
        await tx.query('SELECT 2');
      });
      const failure = await transaction.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(isConnectionLost(failure)).toBe(true);
      if (proxy.state !== 'open') await proxy.restore();
      // Idle clients that lost theirs are dropped, not handed out again.
      await expect
        .poll(async () => (await pool.query<{ n: number }>('SELECT 3 AS n')).rows[0]?.n, {
          timeout: 10_000,
        })
        .toBe(3);
    });
  }
});
