import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, withTransaction, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { MemoryWindowStore, type Observation, type WindowStore } from '../domain/anomaly-model';
import {
  ANOMALY_STATE_RETENTION_MS,
  compileAnomalyConfig,
  evaluate,
} from '../domain/anomaly-rules';
import { anomalyWindowsMigration } from '../migrations';
import { PgAnomalyWindows } from './pg-anomaly-windows';

const logger = createLogger({ service: 'anomaly-windows-test', sink: new MemoryLogSink() });
const MINUTE = 60_000;
const T0 = new Date('2024-03-04T04:30:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

let postgres: PostgresFixture;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

/** A database of the test's own, migrated, and two pools on it: two audit instances. */
async function database(): Promise<{ pools: Pool[] } & AsyncDisposable> {
  const url = await postgres.createDatabase();
  const pools = ['audit-a', 'audit-b'].map((name) =>
    createPool({ connectionString: url, applicationName: name, logger }),
  );
  const release = async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  };
  try {
    await migrate(pools[0]!, [anomalyWindowsMigration], logger);
  } catch (error) {
    await release();
    throw error;
  }
  return { pools, [Symbol.asyncDispose]: release };
}

describe('the anomaly windows in PostgreSQL', () => {
  it('agree with the reference store, boundaries included, and survive a restart', async () => {
    await using db = await database();
    const reference = new MemoryWindowStore();
    const distinct = [
      { name: 'hour', durationMs: 60 * MINUTE },
      { name: 'day', durationMs: 24 * 60 * MINUTE },
    ];
    const counted = [
      { name: 'minute', durationMs: MINUTE, bucketMs: 10_000 },
      { name: 'hour', durationMs: 60 * MINUTE, bucketMs: 15 * MINUTE },
    ];
    const steps: ((store: WindowStore) => Promise<unknown>)[] = [
      (s) => s.addDistinct('staff:s1', 'a', at(0), distinct),
      (s) => s.addDistinct('staff:s1', 'a', at(MINUTE), distinct),
      (s) => s.addDistinct('staff:s1', 'b', at(60 * MINUTE - 1), distinct),
      (s) => s.addDistinct('staff:s1', 'c', at(61 * MINUTE), distinct),
      (s) => s.addDistinct('staff:s1', 'early', at(-30 * MINUTE), distinct),
      (s) => s.addDistinct('staff:s2', 'a', at(0), distinct),
      (s) => s.increment('client:c1', at(5_000), counted),
      (s) => s.increment('client:c1', at(59_999), counted),
      (s) => s.increment('client:c1', at(60_000), counted),
      (s) => s.increment('client:c1', at(16 * MINUTE), counted),
      (s) => s.claimAlert('rule|STAFF:s1', at(0), 60 * MINUTE),
      (s) => s.claimAlert('rule|STAFF:s1', at(59 * MINUTE), 60 * MINUTE),
      (s) => s.claimAlert('rule|STAFF:s1', at(60 * MINUTE), 60 * MINUTE),
    ];
    for (const [i, step] of steps.entries()) {
      // Each step through a store freshly made on either pool: nothing lives in the object.
      const store = new PgAnomalyWindows(db.pools[i % 2]!);
      expect(await step(store), `step ${i}`).toEqual(await step(reference));
    }
  });

  it('loses no count or member when two instances apply observations at once', async () => {
    await using db = await database();
    const stores = db.pools.map((pool) => new PgAnomalyWindows(pool));
    const window = [{ name: 'hour', durationMs: 60 * MINUTE, bucketMs: MINUTE }] as const;
    const increments = await Promise.all(
      Array.from({ length: 200 }, (_, i) => stores[i % 2]!.increment('k', at(i * 100), window)),
    );
    expect(Math.max(...increments.map((counts) => counts.hour))).toBe(200);

    const members = [{ name: 'hour', durationMs: 60 * MINUTE }] as const;
    const added = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        stores[i % 2]!.addDistinct('d', `m${i}`, at(i * 100), members),
      ),
    );
    // Whichever counted last saw every member.
    expect(Math.max(...added.map((counts) => counts.hour))).toBe(100);

    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stores[i % 2]!.claimAlert('c', at(0), MINUTE)),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it('lets transactions take turns per key, each counting what the one before committed', async () => {
    await using db = await database();
    const members = [{ name: 'hour', durationMs: 60 * MINUTE }] as const;
    const counts = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        withTransaction(
          db.pools[i % 2]!,
          async (tx) =>
            (await new PgAnomalyWindows(tx).addDistinct('t', `m${i}`, at(0), members)).hour,
          { retries: 3 },
        ),
      ),
    );
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('raises one alert for a staff member past the hourly threshold, read by two instances at once', async () => {
    await using db = await database();
    const config = compileAnomalyConfig({ staffReadsPerHour: 10, staffReadsPerDay: 100 });
    const staff = {
      kind: 'STAFF',
      principalId: 'staff-int-1',
      clientId: 'vaccinator-app',
    } as const;
    const reads: Observation[] = Array.from({ length: 40 }, (_, i) => ({
      kind: 'READ_GRANTED',
      actor: staff,
      subject: { kind: 'BENEFICIARY', beneficiaryRef: `ben-${i}` },
      basis: { kind: 'CONSENT', grantId: `grant-${i}` },
      occurredAt: at(i * 1_000),
    }));
    const alerts = (
      await Promise.all(
        reads.map((read, i) => evaluate(read, new PgAnomalyWindows(db.pools[i % 2]!), config)),
      )
    ).flat();
    expect(alerts.map((alert) => [alert.rule, alert.response])).toEqual([
      ['STAFF_READS_PER_HOUR', 'SUSPEND_STAFF'],
    ]);
  });

  it('prunes what no window reads any more and keeps the rest', async () => {
    await using db = await database();
    const store = new PgAnomalyWindows(db.pools[0]!);
    const day = [{ name: 'day', durationMs: ANOMALY_STATE_RETENTION_MS, bucketMs: 15 * MINUTE }];
    const members = [{ name: 'day', durationMs: ANOMALY_STATE_RETENTION_MS }];
    const now = at(ANOMALY_STATE_RETENTION_MS + 30 * MINUTE);
    await store.increment('old', at(0), day);
    await store.addDistinct('old', 'm', at(0), members);
    await store.claimAlert('old', at(0), MINUTE);
    await store.increment('fresh', now, day);
    await store.addDistinct('fresh', 'm', now, members);

    expect(await store.prune(now, ANOMALY_STATE_RETENTION_MS)).toBe(3);
    expect(await store.increment('fresh', now, day)).toEqual({ day: 2 });
    expect(await store.addDistinct('fresh', 'n', now, members)).toEqual({ day: 2 });
    expect(await store.increment('old', now, day)).toEqual({ day: 1 });
  });
});
