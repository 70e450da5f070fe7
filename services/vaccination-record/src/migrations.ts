import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';
import { centresMigration } from './adapters/pg-centre-directory';

/**
 * The vaccination-record service's schema: doses with every version kept, certificates
 * (ids and rids only: a card is signed when asked for, never stored), the issuer keys
 * with their private halves sealed under the key-encryption key, each key's revocation
 * list, the staff quota's counts, and the names of vaccination centres as identity
 * announced them. No person's name, mobile or identity number is stored.
 */
export const vaccinationRecordMigrations: readonly Migration[] = [
  ...eventsMigrations,
  {
    id: 'vaccination-record/0001_records',
    sql: `
      CREATE TABLE doses (
        dose_id text PRIMARY KEY,
        beneficiary_ref text NOT NULL CHECK (beneficiary_ref ~ '^bnf_[0-9a-z]{26}$'),
        client_request_id text NOT NULL UNIQUE,
        vaccine_code text NOT NULL,
        dose_number integer NOT NULL,
        series text NOT NULL,
        batch_number text NOT NULL,
        administered_on text NOT NULL,
        centre_id text NOT NULL,
        vaccinator_id text NOT NULL,
        birth_year integer NOT NULL,
        recorded_at timestamptz NOT NULL,
        version integer NOT NULL DEFAULT 0
      );
      CREATE INDEX doses_beneficiary ON doses (beneficiary_ref);
      -- Every version of every dose, the recorded one (0) included: a correction keeps both.
      CREATE TABLE dose_versions (
        dose_id text NOT NULL REFERENCES doses,
        version integer NOT NULL,
        vaccine_code text NOT NULL,
        batch_number text NOT NULL,
        administered_on text NOT NULL,
        corrected_by text,
        reason text,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (dose_id, version)
      );
      CREATE TABLE issuer_keys (
        kid text PRIMARY KEY,
        public_jwk jsonb NOT NULL,
        private_sealed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        crl_version integer NOT NULL DEFAULT 1
      );
      CREATE TABLE revoked_rids (
        kid text NOT NULL REFERENCES issuer_keys,
        rid text NOT NULL,
        revoked_at timestamptz NOT NULL,
        PRIMARY KEY (kid, rid)
      );
      CREATE TABLE certificates (
        certificate_id text PRIMARY KEY,
        beneficiary_ref text NOT NULL,
        kid text NOT NULL REFERENCES issuer_keys,
        rid text NOT NULL,
        issued_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revocation_reason text
      );
      -- One live certificate per beneficiary.
      CREATE UNIQUE INDEX certificates_live ON certificates (beneficiary_ref) WHERE revoked_at IS NULL;
      CREATE TABLE staff_quota (
        staff_id text NOT NULL,
        window_start timestamptz NOT NULL,
        beneficiary_ref text NOT NULL,
        PRIMARY KEY (staff_id, window_start, beneficiary_ref)
      );
    `,
  },
  centresMigration,
];
