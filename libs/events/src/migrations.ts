import type { Migration } from '@vaxguard/db';

/**
 * Tables every event-producing or event-consuming service carries in its own database.
 * Services list these before their own migrations.
 */
export const eventsMigrations: readonly Migration[] = [
  {
    id: 'events/0001_outbox',
    sql: `
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        event_id uuid NOT NULL UNIQUE,
        event_type text NOT NULL,
        topic text NOT NULL,
        message_key text NOT NULL,
        envelope bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        attempts integer NOT NULL DEFAULT 0
      );
      CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
      CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

      -- Wakes the relay as soon as a transaction with events commits.
      CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('outbox', '');
        RETURN NULL;
      END $$;
      CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
    `,
  },
  {
    id: 'events/0002_processed_events',
    sql: `
      CREATE TABLE processed_events (
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      );
    `,
  },
  {
    id: 'events/0003_outbox_urgent_wake',
    sql: `
      -- Only urgent events (revocations, registry records, canary reads) wake the relay
      -- with a NOTIFY; the others wait for its poll. A NOTIFY makes its commit take a
      -- database-wide lock: one per access event serialised every read's commit.
      ALTER TABLE outbox ADD COLUMN urgent boolean NOT NULL DEFAULT true;
      DROP TRIGGER outbox_notify ON outbox;
      -- Several urgent rows in one transaction send one notification (PostgreSQL folds
      -- identical ones).
      CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
        FOR EACH ROW WHEN (NEW.urgent) EXECUTE FUNCTION outbox_notify();
    `,
  },
  {
    id: 'events/0004_processed_events_by_age',
    sql: `
      -- Each consumer prunes its own expired event ids, oldest first, a batch at a time:
      -- without this index every pass would read the consumer's whole history.
      CREATE INDEX processed_events_by_age ON processed_events (consumer, processed_at);
    `,
  },
  {
    id: 'events/0005_retention',
    sql: `
      -- Each table's retention rule, where a reader of the schema finds it (issue 23).
      COMMENT ON TABLE outbox IS 'retention: rows deleted after N. A sent row is deleted OUTBOX_SENT_RETENTION_MS (1 hour) after it was sent, oldest first, OUTBOX_CLEANUP_BATCH_SIZE a statement, by the partial index outbox_sent_at (OutboxRelay.cleanup; libs/events retention-rules.ts). An unsent row is kept until it is sent.';
      COMMENT ON TABLE processed_events IS 'retention: rows deleted after N. A consumer''s event id is deleted PROCESSED_EVENTS_RETENTION_MS (7 days, Kafka''s default topic and offset retention) after it was applied, PROCESSED_EVENTS_PRUNE_BATCH_SIZE a statement, by processed_events_by_age (ProcessedEventsPruner; libs/events retention-rules.ts).';
    `,
  },
  {
    id: 'events/0006_outbox_traceparent',
    sql: `
      -- The W3C traceparent of the span that wrote the row (issue 19): the relay publishes
      -- the event with it in a Kafka header, so its consumers join the writer's trace.
      -- Null when the writer was not traced (tracing off). Nullable without a default:
      -- adding it rewrites no row.
      ALTER TABLE outbox ADD COLUMN traceparent text;
    `,
  },
];
