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
];
