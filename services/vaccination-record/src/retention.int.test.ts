import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  rulesNotServedByIndex,
  startPostgres,
  tablesWithoutRetentionRule,
  type PostgresFixture,
} from '@vaxguard/testing';
import { pruneRecords, recordRetentionRules } from './adapters/pg-record-retention';
import { vaccinationRecordMigrations } from './migrations';

const logger = createLogger({ service: 'record-retention-test', sink: new MemoryLogSink() });
// 12:20: the current staff quota window began at 12:00.
const NOW = new Date('2026-06-01T12:20:00Z');
const at = (iso: string) => new Date(`2026-06-01T${iso}Z`);
const ref = (n: number) => `bnf_${String(n).padStart(26, '0')}`;

let postgres: PostgresFixture;
let url: string;
let pool: Pool;
beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  pool = createPool({ connectionString: url, applicationName: 'record-retention', logger });
  await migrate(pool, vaccinationRecordMigrations, logger);
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});

describe("the vaccination-record service's retention", () => {
  it('states a rule on every table', async () => {
    expect(await tablesWithoutRetentionRule(url)).toEqual([]);
  });

  it('serves every rule by an index', async () => {
    expect(await rulesNotServedByIndex(url, recordRetentionRules(NOW))).toEqual([]);
  });

  it("deletes the staff quota of hours that are over and stale beneficiary facts, keeping the current hour's and fresh ones", async () => {
    await pool.query(
      `INSERT INTO staff_quota (staff_id, window_start, beneficiary_ref) VALUES
         ('stf_a', $1, $3), ('stf_a', $1, $4), ('stf_b', $2, $3), ('stf_a', $2, $4)`,
      [at('10:00:00'), at('12:00:00'), ref(1), ref(2)],
    );
    await pool.query(
      `INSERT INTO beneficiary_facts (beneficiary_ref, birth_year, learned_at) VALUES
         ($1, 1980, $3), ($2, 1990, $4)`,
      [ref(1), ref(2), at('11:00:00'), at('11:30:00')],
    );
    expect(await pruneRecords(pool, NOW)).toBe(3);
    const { rows: quota } = await pool.query<{ staff_id: string; window_start: Date }>(
      'SELECT staff_id, window_start FROM staff_quota ORDER BY staff_id',
    );
    expect(quota).toEqual([
      { staff_id: 'stf_a', window_start: at('12:00:00') },
      { staff_id: 'stf_b', window_start: at('12:00:00') },
    ]);
    const { rows: facts } = await pool.query<{ beneficiary_ref: string }>(
      'SELECT beneficiary_ref FROM beneficiary_facts',
    );
    expect(facts).toEqual([{ beneficiary_ref: ref(2) }]);
  });
});
