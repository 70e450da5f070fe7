import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { Sealer } from '@vaxguard/sealing';
import {
  rulesNotServedByIndex,
  startPostgres,
  tablesWithoutRetentionRule,
  type PostgresFixture,
} from '@vaxguard/testing';
import { otpRetentionRules, PgOtpStore } from './adapters/pg-otp-store';
import { failureStreakForgottenAt, MOBILE_LOCKOUT_MS } from './domain/otp-rules';
import { otpMigrations } from './migrations';

const logger = createLogger({ service: 'otp-retention-test', sink: new MemoryLogSink() });
const NOW = new Date('2026-06-01T12:00:00Z');
const HOUR = 3_600_000;
const before = (ms: number) => new Date(NOW.getTime() - ms);

let postgres: PostgresFixture;
let url: string;
let pool: Pool;
beforeAll(async () => {
  postgres = await startPostgres();
  url = await postgres.createDatabase();
  pool = createPool({ connectionString: url, applicationName: 'otp-retention', logger });
  await migrate(pool, otpMigrations, logger);
});
afterAll(async () => {
  await pool?.end();
  await postgres?.stop();
});

describe("the OTP service's retention", () => {
  it('states a rule on every table', async () => {
    expect(await tablesWithoutRetentionRule(url)).toEqual([]);
  });

  it('serves every rule by an index', async () => {
    expect(await rulesNotServedByIndex(url, otpRetentionRules(NOW))).toEqual([]);
  });

  it('deletes what no rule reads any more and keeps what one still does', async () => {
    const store = new PgOtpStore(pool, new Sealer(randomBytes(32), 'otp-retention-test'));
    const sent = async (id: string, at: Date) => {
      await pool.query(
        `INSERT INTO otp_sends (txn_id, mobile_index, client_id, sent_at, client_bucket,
                                client_counted_after, client_quota_limit)
         VALUES ($1, $2, 'app', $3, $3, $3, 1000)`,
        [randomUUID(), id, at],
      );
    };
    await sent('send-old', before(25 * HOUR));
    await sent('send-in-window', before(23 * HOUR));

    const txn = async (mobileIndex: string, createdAt: Date) => {
      await pool.query(
        `INSERT INTO otp_transactions (txn_id, client_id, mobile_index, mobile_sealed, purpose,
           code_hash, created_at, last_sent_at, expires_at, send_count)
         VALUES ($1, 'app', $2, '\\x00', 'CITIZEN_LOGIN', '\\x00', $3, $3, $3, 1)`,
        [randomUUID(), mobileIndex, createdAt],
      );
    };
    await txn('txn-old', before(25 * HOUR));
    await txn('txn-recent', before(HOUR));

    // Guards as the service writes them: failures at a time, locks until a time.
    await store.transaction(async (uow) => {
      await uow.recordFailure('guard-idle', failureStreakForgottenAt(before(25 * HOUR), HOUR));
      await uow.recordFailure('guard-failing', failureStreakForgottenAt(before(HOUR), HOUR));
      await uow.lockMobile('guard-locked', new Date(NOW.getTime() + HOUR));
      await uow.lockMobile('guard-lock-over', before(60_000));
      // A lock in force outlives a failure counted during it whose streak would be over.
      await uow.lockMobile('guard-locked-failing', new Date(NOW.getTime() + 2 * HOUR));
      await uow.recordFailure(
        'guard-locked-failing',
        failureStreakForgottenAt(before(25 * HOUR), MOBILE_LOCKOUT_MS),
      );
    });

    await pool.query(
      `INSERT INTO otp_client_send_buckets (client_id, bucket_start, sends)
       VALUES ('bucket-old', $1, 1), ('bucket-in-window', $2, 1)`,
      [before(2 * 60_000), before(10_000)],
    );

    const key = async (kid: string, retireAfter: Date | null) => {
      await pool.query(
        `INSERT INTO signing_keys (kid, public_jwk, private_key_sealed, created_at, rotated_at, retire_after)
         VALUES ($1, '{}', '\\x00', $2, $3, $3)`,
        [kid, before(72 * HOUR), retireAfter],
      );
    };
    await key('key-active', null);
    await key('key-retired', before(HOUR));
    await key('key-retired-token-kept', before(HOUR));
    const token = async (tokenId: string, kid: string, expiresAt: Date) => {
      await pool.query(
        `INSERT INTO issued_tokens (token_id, client_id, purpose, key_id, issued_at, expires_at)
         VALUES ($1, 'app', 'CONSENT', $2, $3, $3)`,
        [tokenId, kid, expiresAt],
      );
    };
    const oldToken = randomUUID();
    const recentToken = randomUUID();
    await token(oldToken, 'key-retired', before(25 * HOUR));
    await token(recentToken, 'key-retired-token-kept', before(HOUR));

    expect(await store.prune(NOW)).toBeGreaterThan(0);

    const column = async (sql: string) =>
      (await pool.query<{ v: string }>(sql)).rows.map((row) => row.v).sort();
    expect(await column('SELECT mobile_index AS v FROM otp_sends')).toEqual(['send-in-window']);
    expect(await column('SELECT mobile_index AS v FROM otp_transactions')).toEqual(['txn-recent']);
    expect(await column('SELECT mobile_index AS v FROM otp_mobile_guards')).toEqual([
      'guard-failing',
      'guard-locked',
      'guard-locked-failing',
    ]);
    expect(await column('SELECT client_id AS v FROM otp_client_send_buckets')).toEqual([
      'bucket-in-window',
    ]);
    expect(await column('SELECT token_id::text AS v FROM issued_tokens')).toEqual([recentToken]);
    expect(await column('SELECT kid AS v FROM signing_keys')).toEqual([
      'key-active',
      'key-retired-token-kept',
    ]);
    // The failing mobile's streak is still counted.
    const guard = await store.transaction((uow) => uow.mobileGuard('guard-failing'));
    expect(guard.consecutiveFailures).toBe(1);
  });
});
