import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';

/**
 * The identity service's schema. No column holds a raw mobile or identity number: they
 * are sealed in vault records (AES-256-GCM under a per-record data key, itself wrapped
 * by the key-encryption key) and found only through keyed blind indexes; what is kept
 * in clear of them is their mask. Secret codes are keyed hashes.
 */
export const identityMigrations: readonly Migration[] = [
  ...eventsMigrations,
  {
    id: 'identity/0001_beneficiaries',
    sql: `
      CREATE TABLE beneficiaries (
        beneficiary_ref text PRIMARY KEY CHECK (beneficiary_ref ~ '^bnf_[0-9a-z]{26}$'),
        mobile_index text NOT NULL,
        mobile_sealed bytea NOT NULL,
        masked_mobile text NOT NULL,
        name text NOT NULL,
        gender text NOT NULL CHECK (gender IN ('FEMALE', 'MALE', 'OTHER')),
        year_of_birth integer NOT NULL,
        photo_id_kind text NOT NULL
          CHECK (photo_id_kind IN ('AADHAAR', 'PAN', 'PASSPORT', 'VOTER_ID', 'DRIVING_LICENCE')),
        -- One identity document registers once, whoever holds it.
        photo_id_index text NOT NULL UNIQUE,
        photo_id_sealed bytea NOT NULL,
        masked_photo_id text NOT NULL,
        secret_code_hash bytea NOT NULL,
        secret_code_failures integer NOT NULL DEFAULT 0,
        secret_code_locked_at timestamptz,
        canary boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX beneficiaries_mobile ON beneficiaries (mobile_index);
    `,
  },
  {
    id: 'identity/0002_principals',
    sql: `
      -- Staff, centres and partner clients, and the kill switch over them. A staff
      -- member's mobile (where sign-in codes go) is sealed like a beneficiary's; a
      -- partner's secret is kept only as its SHA-256 (256 random bits: not reversible).
      CREATE TABLE centres (
        centre_id text PRIMARY KEY,
        name text NOT NULL,
        district text NOT NULL,
        state text NOT NULL
      );
      CREATE TABLE staff (
        staff_id text PRIMARY KEY,
        username text NOT NULL UNIQUE,
        display_name text NOT NULL,
        role text NOT NULL
          CHECK (role IN ('VACCINATOR', 'CENTRE_ADMIN', 'AUDITOR', 'PLATFORM_ADMIN')),
        centre_id text REFERENCES centres,
        -- Vaccinators and centre admins work at a centre; the others at none.
        CHECK ((role IN ('VACCINATOR', 'CENTRE_ADMIN')) = (centre_id IS NOT NULL)),
        mobile_index text NOT NULL UNIQUE,
        mobile_sealed bytea NOT NULL,
        masked_mobile text NOT NULL,
        password_hash text NOT NULL,
        failed_logins integer NOT NULL DEFAULT 0,
        last_failed_login_at timestamptz
      );
      CREATE TABLE partners (
        client_id text PRIMARY KEY,
        display_name text NOT NULL,
        secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
        scopes text[] NOT NULL,
        quota_per_minute integer NOT NULL CHECK (quota_per_minute > 0),
        locked boolean NOT NULL DEFAULT false
      );
      CREATE TABLE principal_suspensions (
        principal_kind text NOT NULL CHECK (principal_kind IN ('STAFF', 'PARTNER_CLIENT')),
        principal_id text NOT NULL,
        reason text NOT NULL,
        suspended_at timestamptz NOT NULL,
        PRIMARY KEY (principal_kind, principal_id)
      );
      CREATE TABLE api_locks (
        lock_key text PRIMARY KEY,
        scope jsonb NOT NULL,
        reason text NOT NULL,
        locked_at timestamptz NOT NULL
      );
    `,
  },
  {
    // A staff member's consent requests in the current minute (identity-rules'
    // STAFF_CONSENT_REQUESTS_PER_MINUTE): one row per staff member, reset each window.
    id: 'identity/0003_staff_consent_requests',
    sql: `
      CREATE TABLE staff_consent_requests (
        staff_id text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        requests integer NOT NULL CHECK (requests > 0)
      );
    `,
  },
  {
    // The usernames (keyed indexes, never the names) each client failed to sign in at
    // this minute, so every instance counts one client's spraying together.
    id: 'identity/0004_client_sign_in_failures',
    sql: `
      CREATE TABLE client_sign_in_failures (
        client_id text NOT NULL,
        window_start timestamptz NOT NULL,
        username_index text NOT NULL,
        PRIMARY KEY (client_id, window_start, username_index)
      );
    `,
  },
  {
    // Partners' consent SMS quotas (NULL: identity-rules' defaults) and what each client
    // application asking consent as a partner has counted this minute and this day (IST):
    // one row per client, locked by each request, so instances never overshoot together.
    id: 'identity/0005_partner_consent_sms',
    sql: `
      ALTER TABLE partners
        ADD COLUMN consent_sms_per_minute integer CHECK (consent_sms_per_minute > 0),
        ADD COLUMN consent_sms_per_day integer CHECK (consent_sms_per_day > 0);
      CREATE TABLE partner_consent_sms (
        client_id text PRIMARY KEY,
        minute_start timestamptz NOT NULL,
        minute_requests integer NOT NULL CHECK (minute_requests >= 0),
        day_start timestamptz NOT NULL,
        day_requests integer NOT NULL CHECK (day_requests >= 0)
      );
    `,
  },
  {
    // Every table's retention rule (issue 23: nothing grows without bound). The two that
    // only grew get an index for their rule; pg-identity-retention.ts applies them, a
    // batch per statement, every RETENTION_PRUNE_INTERVAL_MS. Rules: identity-rules.ts.
    id: 'identity/0006_retention',
    sql: `
      CREATE INDEX client_sign_in_failures_by_window ON client_sign_in_failures (window_start);
      CREATE INDEX partner_consent_sms_by_day ON partner_consent_sms (day_start);

      COMMENT ON TABLE client_sign_in_failures IS 'retention: rows deleted after N. A failed username is counted for its minute (STAFF_LOGIN_FAILURE_WINDOW_MS) and deleted once the minute is over (clientSignInFailuresKeptFrom), by client_sign_in_failures_by_window.';
      COMMENT ON TABLE partner_consent_sms IS 'retention: rows deleted after N. A row per client asking consent as a partner, bounded by the registry; deleted a day after its IST day ended (consentSmsCountsKeptFrom, CONSENT_SMS_DAY_MS), by partner_consent_sms_by_day.';
      COMMENT ON TABLE staff_consent_requests IS 'retention: a row per live thing. A row per staff member, its count reset each STAFF_CONSENT_WINDOW_MS in place.';
      COMMENT ON TABLE beneficiaries IS 'retention: grows with the country''s data by design. A row per registered beneficiary (1.1 billion nationally). Beyond one primary: hashed by beneficiary ref (issue 23, docs/scaling.md).';
      COMMENT ON TABLE centres IS 'retention: a row per live thing. A row per vaccination centre.';
      COMMENT ON TABLE staff IS 'retention: a row per live thing. A row per staff member.';
      COMMENT ON TABLE partners IS 'retention: a row per live thing. A row per registered partner client.';
      COMMENT ON TABLE principal_suspensions IS 'retention: a row per live thing. A row per suspension in force, deleted when it is lifted.';
      COMMENT ON TABLE api_locks IS 'retention: a row per live thing. A row per API lock in force, deleted when it is lifted.';
    `,
  },
];
