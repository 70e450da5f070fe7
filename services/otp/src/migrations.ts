import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';

/**
 * The OTP service's schema. No column holds a raw mobile number or a code: mobiles are
 * blind indexes (and, for resends, AES-GCM ciphertext), codes are keyed hashes, and
 * private signing keys are sealed under the key-encryption key.
 */
export const otpMigrations: readonly Migration[] = [
  ...eventsMigrations,
  {
    id: 'otp/0001_transactions',
    sql: `
      CREATE TABLE otp_transactions (
        txn_id uuid PRIMARY KEY,
        client_id text NOT NULL,
        mobile_index text NOT NULL,
        mobile_sealed bytea NOT NULL,
        purpose text NOT NULL CHECK (purpose IN ('CITIZEN_LOGIN', 'CONSENT', 'STAFF_LOGIN')),
        consent jsonb,
        code_hash bytea NOT NULL,
        created_at timestamptz NOT NULL,
        last_sent_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        send_count integer NOT NULL CHECK (send_count >= 1),
        failed_attempts integer NOT NULL DEFAULT 0,
        confirmed_at timestamptz
      );
      CREATE INDEX otp_transactions_created_at ON otp_transactions (created_at);

      -- Every code sent, for the sliding-window quotas per mobile and per client.
      CREATE TABLE otp_sends (
        id bigserial PRIMARY KEY,
        txn_id uuid NOT NULL,
        mobile_index text NOT NULL,
        client_id text NOT NULL,
        sent_at timestamptz NOT NULL
      );
      CREATE INDEX otp_sends_mobile ON otp_sends (mobile_index, sent_at DESC);
      CREATE INDEX otp_sends_client ON otp_sends (client_id, sent_at DESC);
      CREATE INDEX otp_sends_sent_at ON otp_sends (sent_at);

      -- Consecutive wrong codes per mobile, and the lockout they lead to.
      CREATE TABLE otp_mobile_guards (
        mobile_index text PRIMARY KEY,
        consecutive_failures integer NOT NULL DEFAULT 0,
        locked_until timestamptz
      );
    `,
  },
  {
    id: 'otp/0002_signing_keys_and_tokens',
    sql: `
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        public_jwk jsonb NOT NULL,
        private_key_sealed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        rotated_at timestamptz,
        retire_after timestamptz
      );
      -- At most one active key.
      CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE rotated_at IS NULL;

      CREATE TABLE issued_tokens (
        token_id uuid PRIMARY KEY,
        client_id text NOT NULL,
        purpose text NOT NULL,
        key_id text NOT NULL REFERENCES signing_keys (kid),
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
      CREATE INDEX issued_tokens_key_expiry ON issued_tokens (key_id, expires_at);
      CREATE INDEX issued_tokens_expires_at ON issued_tokens (expires_at);
    `,
  },
  {
    id: 'otp/0003_client_send_numbers',
    sql: `
      -- Each client's sends are numbered, so its quota check finds the n-th most recent
      -- send by one index lookup instead of scanning its whole window.
      ALTER TABLE otp_sends ADD COLUMN client_seq bigint;
      UPDATE otp_sends s SET client_seq = numbered.seq
        FROM (SELECT id, row_number() OVER (PARTITION BY client_id ORDER BY sent_at, id) AS seq
                FROM otp_sends) numbered
       WHERE numbered.id = s.id;
      ALTER TABLE otp_sends ALTER COLUMN client_seq SET NOT NULL;
      CREATE UNIQUE INDEX otp_sends_client_seq ON otp_sends (client_id, client_seq);
      DROP INDEX otp_sends_client;

      CREATE TABLE otp_client_send_counts (
        client_id text PRIMARY KEY,
        sends bigint NOT NULL
      );
      INSERT INTO otp_client_send_counts (client_id, sends)
        SELECT client_id, max(client_seq) FROM otp_sends GROUP BY client_id;
    `,
  },
];
