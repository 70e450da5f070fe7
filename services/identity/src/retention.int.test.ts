import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  rulesNotServedByIndex,
  startPostgres,
  tablesWithoutRetentionRule,
  type PostgresFixture,
} from '@vaxguard/testing';
import { identityRetentionRules, pruneIdentity } from './adapters/pg-identity-retention';
import { identityMigrations } from './migrations';

const logger = createLogger({ service: 'identity-retention-test', sink: new MemoryLogSink() });
// 12:20:30 UTC on 1 June is 17:50:30 IST: the IST day began at 18:30 UTC on 31 May.
const NOW = new Date('2026-06-01T12:20:30Z');

let postgres: PostgresFixture;
let url: string;
let pool: Pool;
beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  pool = createPool({ connectionString: url, applicationName: 'identity-retention', logger });
  await migrate(pool, identityMigrations, logger);
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});

describe("the identity service's retention", () => {
  it('states a rule on every table', async () => {
    expect(await tablesWithoutRetentionRule(url)).toEqual([]);
  });

  it('serves every rule by an index', async () => {
    expect(await rulesNotServedByIndex(url, identityRetentionRules(NOW))).toEqual([]);
  });

  it("deletes sign-in failures of minutes that are over and consent SMS counts of days long over, keeping this minute's and today's and yesterday's", async () => {
    await pool.query(
      `INSERT INTO client_sign_in_failures (client_id, window_start, username_index) VALUES
         ('app-quiet', '2026-06-01T12:19:00Z', 'u1'),
         ('app-busy', '2026-06-01T12:19:00Z', 'u1'),
         ('app-busy', '2026-06-01T12:20:00Z', 'u2')`,
    );
    await pool.query(
      `INSERT INTO partner_consent_sms (client_id, minute_start, minute_requests, day_start, day_requests)
       VALUES ('partner-today', '2026-06-01T12:20:00Z', 1, '2026-05-31T18:30:00Z', 5),
              ('partner-yesterday', '2026-05-31T12:00:00Z', 1, '2026-05-30T18:30:00Z', 5),
              ('partner-gone', '2026-05-30T12:00:00Z', 1, '2026-05-29T18:30:00Z', 5),
              ('partner-never', 'epoch', 0, 'epoch', 0)`,
    );
    expect(await pruneIdentity(pool, NOW)).toBe(4);
    const { rows: failures } = await pool.query<{ client_id: string; username_index: string }>(
      'SELECT client_id, username_index FROM client_sign_in_failures',
    );
    expect(failures).toEqual([{ client_id: 'app-busy', username_index: 'u2' }]);
    const { rows: counts } = await pool.query<{ client_id: string }>(
      'SELECT client_id FROM partner_consent_sms ORDER BY client_id',
    );
    expect(counts.map((row) => row.client_id)).toEqual(['partner-today', 'partner-yesterday']);
  });
});
