import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { rulesNotServedByIndex, startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { eventsMigrations } from './migrations';

const logger = createLogger({ service: 'events-retention-test', sink: new MemoryLogSink() });

let postgres: PostgresFixture;
let url: string;
let pool: Pool;
beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  pool = createPool({ connectionString: url, applicationName: 'events-retention', logger });
  await migrate(pool, eventsMigrations, logger);
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});

// What each prune deletes and keeps: outbox.int.test.ts (sent rows past the retention,
// never an unsent one; event ids past it, a recent redelivery still skipped).
describe("the events tables' retention", () => {
  it('states its rule on each table', async () => {
    const { rows } = await pool.query<{ table: string; rule: string }>(
      `SELECT c.relname AS table, obj_description(c.oid, 'pg_class') AS rule
         FROM pg_class c WHERE c.relname IN ('outbox', 'processed_events') ORDER BY 1`,
    );
    expect(rows.map((row) => [row.table, row.rule.startsWith('retention: ')])).toEqual([
      ['outbox', true],
      ['processed_events', true],
    ]);
  });

  it("serves the relay's cleanup and the consumers' prune by an index", async () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    expect(
      await rulesNotServedByIndex(url, [
        { table: 'outbox', where: 'sent_at < $1 AND sent_at IS NOT NULL', params: [hourAgo] },
        {
          table: 'processed_events',
          where: 'consumer = $1 AND processed_at < $2',
          params: ['audit', hourAgo],
        },
      ]),
    ).toEqual([]);
  });
});
