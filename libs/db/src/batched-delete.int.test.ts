import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { retentionPlan, startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { deleteInBatches } from './batched-delete';
import { createPool, type Pool } from './pool';

const logger = createLogger({ service: 'batched-delete-test', sink: new MemoryLogSink() });

describe('deleteInBatches (real server)', () => {
  let postgres: PostgresFixture;
  let pool: Pool;

  beforeAll(async () => {
    postgres = await startPostgres();
    pool = createPool({ connectionString: postgres.url, applicationName: 'db-test', logger });
    await pool.query(`CREATE TABLE leases (id int PRIMARY KEY, expires_at timestamptz NOT NULL,
                                            renewed_at timestamptz);
                      CREATE INDEX leases_expiry ON leases (expires_at);
                      CREATE INDEX leases_by_id_renewal ON leases (id, renewed_at)`);
  });
  afterAll(async () => {
    await pool?.end();
    await postgres?.stop();
  });

  const expired = { table: 'leases', where: 'expires_at < $1', params: [new Date('2024-01-01')] };

  async function seed(): Promise<void> {
    await pool.query('TRUNCATE leases');
    // 2,500 expired, 10 still held.
    await pool.query(`INSERT INTO leases
      SELECT n, CASE WHEN n <= 2500 THEN '2023-12-31'::timestamptz ELSE '2024-01-02'::timestamptz END
        FROM generate_series(1, 2510) AS n`);
  }
  const remaining = async () =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leases')).rows[0]?.n;

  it('deletes every expired row in statements of at most the batch, and keeps the live ones', async () => {
    await seed();
    const statements: number[] = [];
    const counting = {
      query: async (sql: string, params: unknown[]) => {
        const result = await pool.query(sql, params);
        statements.push(result.rowCount ?? 0);
        return result;
      },
    } as unknown as Pool;
    expect(await deleteInBatches(counting, { ...expired, batchSize: 1_000 })).toBe(2_500);
    expect(statements).toEqual([1_000, 1_000, 500]);
    expect(await remaining()).toBe(10);
  });

  it('stops between two statements when told to', async () => {
    await seed();
    let asked = 0;
    const deleted = await deleteInBatches(pool, {
      ...expired,
      batchSize: 1_000,
      stopped: () => asked++ > 0,
    });
    expect(deleted).toBe(1_000);
    expect(await remaining()).toBe(1_510);
  });

  it('a rule an index serves is told from one no index serves', async () => {
    expect(await retentionPlan(postgres.url, expired)).toMatchObject({ servedByIndex: true });
    // No index on the rule's column, one the rule's expression cannot use, and one with the
    // column second.
    for (const where of [
      'id % 2 = 0',
      "expires_at + interval '1 day' < '2024-01-02'",
      // Second in an index's key: the whole index is read, its entries tested one by one.
      'renewed_at < now()',
    ]) {
      expect(await retentionPlan(postgres.url, { table: 'leases', where })).toMatchObject({
        servedByIndex: false,
      });
    }
  });
});
