import type { Migration } from '@vaxguard/db';
import { EVENTS } from '@vaxguard/event-catalogue';
import { eventsMigrations } from '@vaxguard/events';
import { ENTRIES_PER_PARTITION, PARTITIONS_AHEAD } from './domain/log-rules';

/**
 * Raised alerts (the domain's Alert as JSON, with columns to page and filter on) and the
 * automatic responses still to carry out: a response row is written in the same
 * transaction as its alert, and done once identity has answered.
 */
export const alertsMigration: Migration = {
  id: 'audit/0002_anomaly_alerts',
  sql: `
CREATE TABLE anomaly_alerts (
  position bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  alert_id uuid PRIMARY KEY,
  -- The rule's own idempotency key: the same offence in the same window is one alert.
  dedup_key text NOT NULL UNIQUE,
  alert jsonb NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by text,
  response_outcome text CHECK (response_outcome IN ('DONE', 'REFUSED')),
  response_at timestamptz
);
CREATE INDEX anomaly_alerts_unacknowledged ON anomaly_alerts (position)
  WHERE acknowledged_at IS NULL;

CREATE TABLE anomaly_responses (
  alert_id uuid PRIMARY KEY REFERENCES anomaly_alerts (alert_id),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  done_at timestamptz
);
CREATE INDEX anomaly_responses_due ON anomaly_responses (next_attempt_at)
  WHERE done_at IS NULL;
`,
};

/**
 * The anomaly rules' windows in PostgreSQL: distinct members by when each was last seen,
 * counts in fixed buckets (one series per bucket size), and alert claims. Keys and
 * members are principal ids, beneficiary refs and mobile blind indexes: nothing here
 * is a raw identifier.
 */
export const anomalyWindowsMigration: Migration = {
  id: 'audit/anomaly_windows',
  sql: `
CREATE TABLE anomaly_members (
  window_key text NOT NULL,
  member text NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (window_key, member)
);
CREATE INDEX anomaly_members_by_key_last_seen ON anomaly_members (window_key, last_seen);
CREATE INDEX anomaly_members_by_last_seen ON anomaly_members (last_seen);

CREATE TABLE anomaly_counts (
  window_key text NOT NULL,
  bucket_ms integer NOT NULL CHECK (bucket_ms > 0),
  bucket_start timestamptz NOT NULL,
  count bigint NOT NULL CHECK (count > 0),
  PRIMARY KEY (window_key, bucket_ms, bucket_start)
);
CREATE INDEX anomaly_counts_by_bucket_start ON anomaly_counts (bucket_start);

CREATE TABLE anomaly_alert_claims (
  claim_key text PRIMARY KEY,
  claimed_at timestamptz NOT NULL,
  held_until timestamptz NOT NULL
);
CREATE INDEX anomaly_alert_claims_by_held_until ON anomaly_alert_claims (held_until);
`,
};

/**
 * The log's directory of names: centres (name and place), staff members (role and
 * centre, never a name) and partner applications (display name), as identity announced
 * them in centre.created, staff.created and partner.registered. Filled as the log
 * ingests those events, in the same transaction, so it holds exactly what the log holds;
 * each row names the event it came from.
 */
export const directoryMigration: Migration = {
  id: 'audit/0004_directory',
  sql: `
CREATE TABLE audit_directory_centres (
  centre_id text PRIMARY KEY,
  name text NOT NULL,
  district text NOT NULL,
  state text NOT NULL,
  event_id uuid NOT NULL
);
CREATE TABLE audit_directory_staff (
  staff_id text PRIMARY KEY,
  role text NOT NULL,
  centre_id text NOT NULL,
  event_id uuid NOT NULL
);
CREATE TABLE audit_directory_partners (
  client_id text PRIMARY KEY,
  display_name text NOT NULL,
  event_id uuid NOT NULL
);
`,
};

/** What auditors and citizens look entries up by: who acted, and whose data it was. */
export const queryIndexesMigration: Migration = {
  id: 'audit/0003_query_indexes',
  sql: `
CREATE INDEX audit_log_entries_by_actor ON audit_log_entries (actor_id, entry_index);
CREATE INDEX audit_log_entries_by_subject ON audit_log_entries (subject_ref, entry_index);
`,
};

/**
 * The tree's node hashes as C2SP tlog-tiles (issue 23): one row per tile of 256 hashes
 * of tree level 8·level, instead of a row per perfect subtree (two per entry). The
 * levels between are rebuilt from a tile when read (@vaxguard/tlog tileNodeReader).
 * The rightmost tile of each level grows in place; every other is full and never
 * changes. An existing log's nodes of levels 0, 8, 16, … become its tiles, each
 * checked to start at its tile's first hash and to leave no gap, and the node table
 * goes. Hashes are random bytes: stored out of line without trying to compress them.
 */
export const tilesMigration: Migration = {
  id: 'audit/0005_log_tiles',
  sql: `
CREATE TABLE audit_log_tiles (
  level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
  tile_index bigint NOT NULL CHECK (tile_index >= 0),
  width smallint NOT NULL CHECK (width BETWEEN 1 AND 256),
  hashes bytea NOT NULL,
  PRIMARY KEY (level, tile_index),
  CHECK (length(hashes) = 32 * width)
);
ALTER TABLE audit_log_tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;

DO $$
DECLARE
  broken record;
BEGIN
  SELECT level, node_index / 256 AS tile_index INTO broken
    FROM audit_log_nodes
   WHERE level % 8 = 0
   GROUP BY level, node_index / 256
  HAVING min(node_index % 256) <> 0 OR max(node_index % 256) + 1 <> count(*)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'audit_log_nodes has a gap in tile %/% of tree level %: not converted',
      broken.level / 8, broken.tile_index, broken.level;
  END IF;
END $$;

INSERT INTO audit_log_tiles (level, tile_index, width, hashes)
SELECT level / 8, node_index / 256, count(*), string_agg(hash, ''::bytea ORDER BY node_index)
  FROM audit_log_nodes
 WHERE level % 8 = 0
 GROUP BY level / 8, node_index / 256;

DROP TABLE audit_log_nodes;
`,
};

/**
 * Entries partitioned by index with pg_partman (issue 23), so that old partitions can be
 * detached and archived and no index grows past what fits in memory. An existing log is
 * converted in place: the table is renamed, the partitioned parent made with the same
 * columns, partman given it (native range partitions of ENTRIES_PER_PARTITION indexes,
 * PARTITIONS_AHEAD made ahead), a partition made for every range the old rows cover,
 * the rows moved in index order and the old table dropped. partman's default partition
 * is dropped: an append past the partitions made ahead is refused, never stored outside
 * its range (the service runs partman's maintenance every minute, and once here).
 *
 * Indexes: the primary key (entry_index), actor and subject as before, and the event
 * type (event_type, entry_index), each read in index order from a lower bound. There is
 * no UNIQUE(event_id) any more (a unique index must include the partition key): the
 * consumer's processed_events is the guard of one entry per event, with events older
 * than its window refused (log-rules DEDUP_WINDOW_MS). Checkpoints get an index on
 * their time: a time filter starts at the last checkpoint signed before it
 * (TIME_FILTER_SLACK_MS). The vaxguard role that runs migrations owns the database and
 * may create the extension (tools/images/postgres: the initdb superuser).
 */
export const partitionedEntriesMigration: Migration = {
  id: 'audit/0006_entries_partitioned',
  sql: `
CREATE SCHEMA IF NOT EXISTS partman;
CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman;

ALTER TABLE audit_log_entries RENAME TO audit_log_entries_unpartitioned;
ALTER INDEX audit_log_entries_pkey RENAME TO audit_log_entries_unpartitioned_pkey;
ALTER INDEX audit_log_entries_event_id_key RENAME TO audit_log_entries_unpartitioned_event_id;
ALTER INDEX audit_log_entries_by_actor RENAME TO audit_log_entries_unpartitioned_by_actor;
ALTER INDEX audit_log_entries_by_subject RENAME TO audit_log_entries_unpartitioned_by_subject;

CREATE TABLE audit_log_entries (
  entry_index bigint NOT NULL CHECK (entry_index >= 0),
  event_id uuid NOT NULL,
  event_type text NOT NULL,
  producer text NOT NULL,
  actor_kind text NOT NULL,
  actor_id text NOT NULL,
  subject_kind text NOT NULL,
  subject_ref text NOT NULL,
  occurred_at timestamptz NOT NULL,
  ingested_at timestamptz NOT NULL,
  entry bytea NOT NULL,
  PRIMARY KEY (entry_index)
) PARTITION BY RANGE (entry_index);
CREATE INDEX audit_log_entries_by_actor ON audit_log_entries (actor_id, entry_index);
CREATE INDEX audit_log_entries_by_subject ON audit_log_entries (subject_ref, entry_index);
CREATE INDEX audit_log_entries_by_type ON audit_log_entries (event_type, entry_index);

SELECT partman.create_parent('public.audit_log_entries', 'entry_index', 'native',
  '${ENTRIES_PER_PARTITION}', p_premake := ${PARTITIONS_AHEAD}, p_start_partition := '0',
  p_jobmon := false);
DROP TABLE audit_log_entries_default;
SELECT partman.create_partition_id('public.audit_log_entries', ARRAY(
  SELECT generate_series(0, coalesce(max(entry_index), 0), ${ENTRIES_PER_PARTITION})
    FROM audit_log_entries_unpartitioned));
INSERT INTO audit_log_entries
  SELECT * FROM audit_log_entries_unpartitioned ORDER BY entry_index;
DROP TABLE audit_log_entries_unpartitioned;
SELECT partman.run_maintenance('public.audit_log_entries', p_jobmon := false);

CREATE INDEX audit_checkpoints_by_time ON audit_checkpoints (created_at);
`,
};

/**
 * Which beneficiaries are registered on which mobile, kept at ingestion in the batch
 * transaction beside the directory (pg-access-history.ts), so that a citizen's access
 * history reads its few rows instead of walking the citizen's own actions, which only
 * grow (issue 23). Filled here from the registrations already in the log, as
 * GetMyAccessHistory found them: appended with a citizen token (the actor is the
 * mobile's blind index) and naming that mobile in their payload, a BeneficiaryRegistered
 * whose field 1 (mobile_index, a string under 128 bytes) protobuf encoders write first.
 */
export const citizenBeneficiariesMigration: Migration = {
  id: 'audit/0007_citizen_beneficiaries',
  sql: `
CREATE TABLE audit_citizen_beneficiaries (
  mobile_index text NOT NULL,
  beneficiary_ref text NOT NULL,
  event_id uuid NOT NULL,
  PRIMARY KEY (mobile_index, beneficiary_ref)
);
INSERT INTO audit_citizen_beneficiaries (mobile_index, beneficiary_ref, event_id)
SELECT DISTINCT ON (actor_id, subject_ref) actor_id, subject_ref, event_id
  FROM (
    SELECT entry_index, actor_id, subject_ref, event_id,
           convert_from(entry, 'UTF8')::jsonb -> 'payload' AS payload
      FROM audit_log_entries
     WHERE event_type = '${EVENTS.beneficiaryRegistered.name}' AND subject_ref <> ''
       AND octet_length(actor_id) BETWEEN 1 AND 127
  ) AS registration
 WHERE payload ->> 'typeUrl' = '${EVENTS.beneficiaryRegistered.typeUrl}'
   AND position(
         '\\x0a'::bytea || set_byte('\\x00'::bytea, 0, octet_length(actor_id))
           || convert_to(actor_id, 'UTF8')
         IN decode(payload ->> 'value', 'base64')) = 1
 ORDER BY actor_id, subject_ref, entry_index;
`,
};

/**
 * The audit service's schema: the shared outbox and processed-events tables, then the
 * transparency log. An entry's bytes are what its leaf hash is taken of; its columns
 * (type, actor, subject, times) are there for queries and are checked against the
 * bytes by VerifyLog. Node hashes were stored for every perfect subtree, keyed by
 * (level, index); since 0005 they are tiles (tilesMigration). Then the anomaly
 * rules' windows, the alerts with their queued automatic responses, the indexes
 * that auditors' and citizens' queries look entries up by, and the directory of the
 * centre and partner names a citizen's access history shows.
 */
export const auditMigrations: readonly Migration[] = [
  ...eventsMigrations,
  {
    id: 'audit/0001_transparency_log',
    sql: `
      CREATE TABLE audit_log_entries (
        entry_index bigint PRIMARY KEY CHECK (entry_index >= 0),
        -- The last guard of "one entry per event", behind the consumer's deduplication.
        event_id uuid NOT NULL UNIQUE,
        event_type text NOT NULL,
        producer text NOT NULL,
        actor_kind text NOT NULL,
        actor_id text NOT NULL,
        subject_kind text NOT NULL,
        subject_ref text NOT NULL,
        occurred_at timestamptz NOT NULL,
        ingested_at timestamptz NOT NULL,
        entry bytea NOT NULL
      );
      CREATE TABLE audit_log_nodes (
        level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
        node_index bigint NOT NULL CHECK (node_index >= 0),
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, node_index)
      );
      -- One row: the size and root of the stored tree. Every append locks it, so appends
      -- run one after another whichever instance makes them.
      CREATE TABLE audit_log_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        tree_size bigint NOT NULL CHECK (tree_size >= 0),
        root_hash bytea NOT NULL CHECK (length(root_hash) = 32)
      );
      -- The empty tree: its root is SHA-256 of nothing (RFC 6962 §2.1).
      INSERT INTO audit_log_head (tree_size, root_hash)
        VALUES (0, sha256(''::bytea));
      CREATE TABLE audit_checkpoints (
        tree_size bigint PRIMARY KEY CHECK (tree_size >= 0),
        root_hash bytea NOT NULL CHECK (length(root_hash) = 32),
        signed_note text NOT NULL,
        created_at timestamptz NOT NULL
      );
    `,
  },
  anomalyWindowsMigration,
  alertsMigration,
  queryIndexesMigration,
  directoryMigration,
  tilesMigration,
  partitionedEntriesMigration,
  citizenBeneficiariesMigration,
  {
    // Every table's retention rule (issue 23: nothing grows without bound), where a
    // reader of the schema finds it. The anomaly windows' rules are applied by
    // PgAnomalyWindows.prune (anomalyRetentionRules, by the indexes of
    // audit/anomaly_windows); the log's tables grow by design and are partitioned.
    id: 'audit/0008_retention',
    sql: `
      COMMENT ON TABLE anomaly_members IS 'retention: rows deleted after N. A member last seen ANOMALY_STATE_RETENTION_MS (the longest window, 24 hours) ago is deleted, by anomaly_members_by_last_seen.';
      COMMENT ON TABLE anomaly_counts IS 'retention: rows deleted after N. A bucket started ANOMALY_STATE_RETENTION_MS (24 hours) ago is deleted, by anomaly_counts_by_bucket_start.';
      COMMENT ON TABLE anomaly_alert_claims IS 'retention: rows deleted after N. A claim is deleted once held_until passed, by anomaly_alert_claims_by_held_until.';
      COMMENT ON TABLE anomaly_alerts IS 'retention: grows with the country''s data by design. Alerts are auditors'' evidence, kept as the log is; each rule raises at most one per offence and window (its dedup_key), so they grow with offences, not with traffic.';
      COMMENT ON TABLE anomaly_responses IS 'retention: grows with the country''s data by design. One row per alert that asked identity for an automatic response, kept with its alert.';
      COMMENT ON TABLE audit_directory_centres IS 'retention: a row per live thing. A row per centre identity announced.';
      COMMENT ON TABLE audit_directory_staff IS 'retention: a row per live thing. A row per staff member identity announced.';
      COMMENT ON TABLE audit_directory_partners IS 'retention: a row per live thing. A row per partner identity registered.';
      COMMENT ON TABLE audit_citizen_beneficiaries IS 'retention: grows with the country''s data by design. A row per beneficiary registered on a mobile, as the log holds their registrations.';
      COMMENT ON TABLE audit_log_entries IS 'retention: time partitions dropped. The log is append-forever and grows with the country''s data by design; its entries are partitioned by index (ENTRIES_PER_PARTITION, pg_partman) so old partitions can be detached and archived, and one log per period is issue 23''s sharding plan (docs/scaling.md).';
      COMMENT ON TABLE audit_log_tiles IS 'retention: grows with the country''s data by design. The tree''s hashes as C2SP tlog-tiles, about 2 hashes per entry: what every proof reads, kept as long as the log.';
      COMMENT ON TABLE audit_checkpoints IS 'retention: grows with the country''s data by design. A signed checkpoint per checkpoint interval, what witnesses and auditors hold the log to.';
      COMMENT ON TABLE audit_log_head IS 'retention: a row per live thing. One row: the size and root of the stored tree.';
    `,
  },
];
