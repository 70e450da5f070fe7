import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  rulesNotServedByIndex,
  startPostgres,
  tablesWithoutRetentionRule,
  type PostgresFixture,
} from '@vaxguard/testing';
import { anomalyRetentionRules } from './adapters/pg-anomaly-windows';
import { ANOMALY_STATE_RETENTION_MS } from './domain/anomaly-rules';
import { auditMigrations } from './migrations';

const logger = createLogger({ service: 'audit-retention-test', sink: new MemoryLogSink() });

let postgres: PostgresFixture;
let url: string;
let pool: Pool;
beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  pool = createPool({ connectionString: url, applicationName: 'audit-retention', logger });
  await migrate(pool, auditMigrations, logger);
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});

// What the anomaly windows' prune deletes and keeps: pg-anomaly-windows.int.test.ts.
describe("the audit service's retention", () => {
  it('states a rule on every table', async () => {
    expect(await tablesWithoutRetentionRule(url)).toEqual([]);
  });

  it("serves every rule of the anomaly windows' prune by an index", async () => {
    expect(
      await rulesNotServedByIndex(
        url,
        anomalyRetentionRules(new Date(), ANOMALY_STATE_RETENTION_MS),
      ),
    ).toEqual([]);
  });
});
