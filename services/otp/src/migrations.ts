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
  {
    id: 'otp/0004_client_quota_at_commit',
    sql: `
      -- Numbered sends (0003) made one client's sends take turns from the numbering
      -- statement to the commit, a round trip to the service included. Now each client's
      -- sends are counted in small time buckets, and each send's client quota is checked
      -- by a deferred trigger as its transaction commits: the turn is that check and the
      -- commit. Each send carries its check; the domain decides the bucket, the window
      -- and the limit (otp-rules.ts, configuration).
      DROP TABLE otp_client_send_counts;
      ALTER TABLE otp_sends DROP COLUMN client_seq;
      ALTER TABLE otp_sends
        ADD COLUMN client_bucket timestamptz,
        ADD COLUMN client_counted_after timestamptz,
        ADD COLUMN client_quota_limit integer;
      -- Required of every new send (the trigger checks what the row says); older rows
      -- were checked when they were made.
      ALTER TABLE otp_sends ADD CONSTRAINT otp_sends_client_quota_check CHECK (
        client_bucket IS NOT NULL AND client_counted_after IS NOT NULL
        AND client_quota_limit IS NOT NULL
      ) NOT VALID;

      CREATE TABLE otp_client_send_buckets (
        client_id text NOT NULL,
        bucket_start timestamptz NOT NULL,
        sends integer NOT NULL CHECK (sends > 0),
        PRIMARY KEY (client_id, bucket_start)
      );
      -- The sends already made keep counting: per second, the bucket of the rules when
      -- this was written (CLIENT_QUOTA_BUCKET_MS).
      INSERT INTO otp_client_send_buckets (client_id, bucket_start, sends)
        SELECT client_id, date_trunc('second', sent_at), count(*)
          FROM otp_sends GROUP BY 1, 2;

      -- A mobile's quota state in one round trip: its lock first, then each read afresh
      -- (READ COMMITTED), so the reads see every send admitted before the lock. Per
      -- window: the n-th most recent send since its start (a mobile's limits are small).
      CREATE FUNCTION otp_hold_mobile_quota(
        p_lock_key text, p_mobile_index text, p_since timestamptz[], p_n integer[]
      ) RETURNS TABLE (
        consecutive_failures integer, locked_until timestamptz, nth_most_recent timestamptz[]
      ) LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_lock_key, 0));
        RETURN QUERY
          SELECT g.consecutive_failures, g.locked_until,
                 ARRAY(SELECT (SELECT s.sent_at FROM otp_sends s
                                WHERE s.mobile_index = p_mobile_index AND s.sent_at > w.since
                                ORDER BY s.sent_at DESC OFFSET w.n - 1 LIMIT 1)
                         FROM unnest(p_since, p_n) WITH ORDINALITY AS w (since, n, i)
                        ORDER BY w.i)
            FROM (SELECT) AS one
            LEFT JOIN otp_mobile_guards g ON g.mobile_index = p_mobile_index;
      END $$;

      CREATE FUNCTION otp_admit_client_send() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        nth_most_recent timestamptz;
      BEGIN
        -- One client's sends take turns from here to the end of their commits, on every
        -- instance. Each statement below reads afresh (READ COMMITTED), so it sees every
        -- send admitted before this turn.
        PERFORM pg_advisory_xact_lock(hashtextextended('vaxguard/otp/client:' || NEW.client_id, 0));
        -- The bucket of the limit-th most recent counted send: at most window / bucket
        -- rows, however high the limit.
        SELECT bucket_start INTO nth_most_recent FROM (
          SELECT bucket_start, sum(sends) OVER (ORDER BY bucket_start DESC) AS counted
            FROM otp_client_send_buckets
           WHERE client_id = NEW.client_id AND bucket_start > NEW.client_counted_after
        ) recent
        WHERE counted >= NEW.client_quota_limit
        ORDER BY bucket_start DESC LIMIT 1;
        IF FOUND THEN
          RAISE EXCEPTION 'client send quota is full' USING
            ERRCODE = 'VGQ01',
            DETAIL = (extract(epoch FROM nth_most_recent) * 1000)::bigint::text;
        END IF;
        INSERT INTO otp_client_send_buckets AS b (client_id, bucket_start, sends)
          VALUES (NEW.client_id, NEW.client_bucket, 1)
          ON CONFLICT (client_id, bucket_start) DO UPDATE SET sends = b.sends + 1;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER otp_admit_client_send AFTER INSERT ON otp_sends
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION otp_admit_client_send();
    `,
  },
  {
    id: 'otp/0005_staff_sign_in',
    sql: `
      -- A STAFF_LOGIN transaction carries who it signs in (staff id, role, centre), as
      -- identity checked them; the confirmed token is that staff member's session.
      ALTER TABLE otp_transactions ADD COLUMN staff jsonb;
      ALTER TABLE otp_transactions ADD CONSTRAINT otp_transactions_staff_check
        CHECK ((purpose = 'STAFF_LOGIN') = (staff IS NOT NULL)) NOT VALID;
    `,
  },
  {
    id: 'otp/0006_retention',
    sql: `
      -- Every table's retention rule (issue 23: nothing grows without bound), each served
      -- by an index; PgOtpStore.prune applies them, a batch per statement, from the
      -- otp-maintenance task. Constants: otp-rules.ts.

      -- A failure streak used to stay forever: a guard row is now forgotten at
      -- forget_after (a day after its last failure, or when its lock ends).
      ALTER TABLE otp_mobile_guards ADD COLUMN forget_after timestamptz;
      UPDATE otp_mobile_guards
         SET forget_after = greatest(now() + interval '24 hours', locked_until);
      ALTER TABLE otp_mobile_guards ALTER COLUMN forget_after SET NOT NULL;
      CREATE INDEX otp_mobile_guards_forget_after ON otp_mobile_guards (forget_after);
      -- The buckets' key starts with the client: without this, pruning read every row.
      CREATE INDEX otp_client_send_buckets_by_start ON otp_client_send_buckets (bucket_start);
      CREATE INDEX signing_keys_retired ON signing_keys (retire_after) WHERE retire_after IS NOT NULL;

      COMMENT ON TABLE otp_transactions IS 'retention: rows deleted after N. A transaction is deleted TRANSACTION_RETENTION_MS (24 hours, the longest send window, at least TXN_MAX_LIFETIME_MS) after it was created, by otp_transactions_created_at.';
      COMMENT ON TABLE otp_sends IS 'retention: rows deleted after N. A send is deleted SEND_RETENTION_MS (24 hours, the longest of MOBILE_SEND_QUOTAS) after it was sent, by otp_sends_sent_at.';
      COMMENT ON TABLE otp_mobile_guards IS 'retention: rows deleted after N. A mobile''s guard is deleted at forget_after: MOBILE_FAILURE_STREAK_RETENTION_MS (24 hours, at least the lockout) after its last failure, or when its lock ends; by otp_mobile_guards_forget_after.';
      COMMENT ON TABLE otp_client_send_buckets IS 'retention: rows deleted after N. A bucket is deleted CLIENT_SEND_BUCKET_RETENTION_MS (the client quota window, 1 minute) after it started, by otp_client_send_buckets_by_start.';
      COMMENT ON TABLE issued_tokens IS 'retention: rows deleted after N. A token record is deleted ISSUED_TOKEN_RETENTION_MS (24 hours) after the token expired, by issued_tokens_expires_at.';
      COMMENT ON TABLE signing_keys IS 'retention: a row per live thing. The active key and the rotated ones, each deleted once retired (retire_after passed, by signing_keys_retired) and no issued_tokens row names it any more.';
    `,
  },
  {
    id: 'otp/0007_sms_delivery_records',
    sql: `
      -- A code the SMS centre took (SMPP): its message id, the transaction it was sent
      -- for, and the delivery receipt once the centre reports one. Either half may land
      -- first (a receipt can overtake the record of its submit), so both upsert. No
      -- number and no code.
      CREATE TABLE otp_sms_deliveries (
        message_id text PRIMARY KEY,
        txn_id uuid,
        submitted_at timestamptz,
        receipt_state text,
        receipt_error text,
        receipt_at timestamptz,
        recorded_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX otp_sms_deliveries_txn ON otp_sms_deliveries (txn_id);
      CREATE INDEX otp_sms_deliveries_recorded_at ON otp_sms_deliveries (recorded_at);
      COMMENT ON TABLE otp_sms_deliveries IS 'retention: rows deleted after N. A delivery record is deleted DELIVERY_RECORD_RETENTION_MS (24 hours, as long as its transaction) after it was first recorded, by otp_sms_deliveries_recorded_at.';
    `,
  },
  {
    id: 'otp/0008_consent_grant_subjects',
    sql: `
      -- A consent grant (CONSENT or SECRET_CODE) records whose mobile it names (the blind
      -- index, its token's subject) and what it opens, so the citizen can list the grants
      -- in force and withdraw one (ListMyConsents, WithdrawConsent). Other tokens leave
      -- both empty. No mobile number: the index only.
      ALTER TABLE issued_tokens
        ADD COLUMN grant_mobile_index text,
        ADD COLUMN consent jsonb;
      ALTER TABLE issued_tokens ADD CONSTRAINT issued_tokens_grant_check
        CHECK ((grant_mobile_index IS NULL) = (consent IS NULL));
      CREATE INDEX issued_tokens_grants_in_force ON issued_tokens (grant_mobile_index, expires_at)
        WHERE grant_mobile_index IS NOT NULL AND revoked_at IS NULL;
      COMMENT ON TABLE issued_tokens IS 'retention: rows deleted after N. A token record, with a consent grant''s mobile index and consent, is deleted ISSUED_TOKEN_RETENTION_MS (24 hours) after the token expired, by issued_tokens_expires_at.';
    `,
  },
];
