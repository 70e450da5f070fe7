import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';
import { centresMigration } from './adapters/pg-centre-directory';

/**
 * The vaccination-record service's schema: doses with every version kept, certificates
 * (ids and rids only: a card is signed when asked for, never stored), the issuer keys
 * with their private halves sealed under the key-encryption key, each key's revocation
 * list, the holds on beneficiaries' certificates, the staff quota's counts, the
 * names of vaccination centres as identity announced them, and the year of birth of the
 * beneficiaries a dose may be recorded for, as identity gave it. No person's name, mobile or
 * identity number is stored.
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
  {
    id: 'vaccination-record/0003_certificate_holds',
    sql: `
      -- A beneficiary's certificate held after a revocation for a fraudulent or mistaken
      -- record: no card is signed for them while a hold has no lifted_at. Every hold is
      -- kept, with who placed it, who lifted it and how (ADMIN, CORRECTION), and why.
      CREATE TABLE certificate_holds (
        hold_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        beneficiary_ref text NOT NULL,
        certificate_id text NOT NULL REFERENCES certificates,
        cause text NOT NULL CHECK (cause IN ('FRAUDULENT', 'MISTAKEN_RECORD')),
        reason text NOT NULL,
        placed_by text NOT NULL,
        placed_at timestamptz NOT NULL,
        lifted_at timestamptz,
        lifted_by text,
        lifted_how text CHECK (lifted_how IN ('ADMIN', 'CORRECTION')),
        lift_reason text,
        lift_dose_id text,
        CHECK ((lifted_at IS NULL) = (lifted_how IS NULL))
      );
      -- One hold in place per beneficiary.
      CREATE UNIQUE INDEX certificate_holds_active ON certificate_holds (beneficiary_ref)
        WHERE lifted_at IS NULL;
    `,
  },
  {
    id: 'vaccination-record/0004_beneficiary_facts',
    sql: `
      -- What identity said of a beneficiary that a dose needs (it exists; its year of
      -- birth, which doses already keep), and when: RecordDose reads it here instead of
      -- asking identity, and asks again once it is older than BENEFICIARY_FACTS_MAX_AGE_MS.
      CREATE TABLE beneficiary_facts (
        beneficiary_ref text PRIMARY KEY CHECK (beneficiary_ref ~ '^bnf_[0-9a-z]{26}$'),
        birth_year integer NOT NULL,
        learned_at timestamptz NOT NULL
      );
    `,
  },
  {
    id: 'vaccination-record/0005_revocation_positions',
    sql: `
      -- Each revoked rid carries the version of its key's list that first listed it (the
      -- key's crl_version, bumped in the same transaction before the rid is inserted):
      -- an instance holding a list at version v reads only the rids after v, by this
      -- index, instead of aggregating the whole list again. The rids already revoked
      -- take the versions 2, 3, ... in the order the list gave them (revoked_at, rid);
      -- their key's counter, moved once per revocation, is at least as high.
      ALTER TABLE revoked_rids ADD COLUMN crl_version integer;
      UPDATE revoked_rids r SET crl_version = numbered.version
        FROM (SELECT kid, rid,
                     1 + row_number() OVER (PARTITION BY kid ORDER BY revoked_at, rid) AS version
                FROM revoked_rids) numbered
       WHERE numbered.kid = r.kid AND numbered.rid = r.rid;
      ALTER TABLE revoked_rids ALTER COLUMN crl_version SET NOT NULL;
      CREATE UNIQUE INDEX revoked_rids_by_version ON revoked_rids (kid, crl_version);
    `,
  },
  {
    id: 'vaccination-record/0006_retention',
    sql: `
      -- Every table's retention rule (issue 23: nothing grows without bound). The two
      -- that only grew get an index for their rule; pg-record-retention.ts applies them,
      -- a batch per statement, every RETENTION_PRUNE_INTERVAL_MS. Rules: record-rules.ts.
      CREATE INDEX staff_quota_by_window ON staff_quota (window_start);
      CREATE INDEX beneficiary_facts_by_learned_at ON beneficiary_facts (learned_at);

      COMMENT ON TABLE staff_quota IS 'retention: rows deleted after N. A row counts a beneficiary in a staff member''s hour (STAFF_QUOTA_WINDOW_MS); it is deleted once the hour is over (staffQuotaKeptFrom), by staff_quota_by_window.';
      COMMENT ON TABLE beneficiary_facts IS 'retention: rows deleted after N. Facts learned more than BENEFICIARY_FACTS_MAX_AGE_MS (1 hour) ago are never used again and are deleted (beneficiaryFactsKeptFrom), by beneficiary_facts_by_learned_at.';
      COMMENT ON TABLE doses IS 'retention: grows with the country''s data by design. Every dose is kept: the record of a vaccination. Beyond one primary: sharded by beneficiary ref (issue 23, docs/scaling.md).';
      COMMENT ON TABLE dose_versions IS 'retention: grows with the country''s data by design. Every version of every dose is kept (a correction keeps both). Sharded with its dose (issue 23, docs/scaling.md).';
      COMMENT ON TABLE certificates IS 'retention: grows with the country''s data by design. Every certificate issued is kept, revoked ones included (what a rid was revoked for). Sharded by beneficiary ref (issue 23, docs/scaling.md).';
      COMMENT ON TABLE certificate_holds IS 'retention: grows with the country''s data by design. Every hold is kept with who placed and lifted it; at most one in place per beneficiary. Sharded by beneficiary ref (issue 23, docs/scaling.md).';
      COMMENT ON TABLE revoked_rids IS 'retention: grows with the country''s data by design. A revocation stays listed while a card its key signed can be presented; it goes with its key, never alone. Served incrementally by revoked_rids_by_version.';
      COMMENT ON TABLE issuer_keys IS 'retention: a row per live thing. A row per issuer key: the current one signs, the older ones verify the cards they signed (a rotation adds one).';
      COMMENT ON TABLE centres IS 'retention: a row per live thing. A row per vaccination centre identity announced.';
    `,
  },
];
