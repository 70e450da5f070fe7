import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';
import { alertsMigration } from './adapters/pg-alerts';
import { anomalyWindowsMigration } from './adapters/pg-anomaly-windows';
import { directoryMigration } from './adapters/pg-directory';
import { queryIndexesMigration } from './adapters/pg-log-queries';

/**
 * The audit service's schema: the shared outbox and processed-events tables, then the
 * transparency log. An entry's bytes are what its leaf hash is taken of; its columns
 * (type, actor, subject, times) are there for queries and are checked against the
 * bytes by VerifyLog. Node hashes are stored for every perfect subtree, keyed by
 * (level, index), so a proof is one read of at most 2·log2(n) rows. Then the anomaly
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
];
