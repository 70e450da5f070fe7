import type { Kafka } from 'kafkajs';
import type { Migration, Pool, Queryable } from '@vaxguard/db';
import { EVENTS, isEvent, topicSpec } from '@vaxguard/event-catalogue';
import {
  ensureTopics,
  IdempotentConsumer,
  type ConsumedEvent,
  type ConsumerLagMonitor,
} from '@vaxguard/events';
import type { Logger } from '@vaxguard/logging';
import type { CentreDirectory } from '../domain/model';

/*
 * Why this service keeps its own copy of the centres' names: a certificate names the
 * centre of each dose, and only identity holds centres. Identity already announces each
 * one, with its name, in centre.created (as the audit service's directory reads it), so
 * a projection of that event costs no new contract and puts no call to identity on the
 * certificate's path: a certificate is printed while identity is slow or down. A centre's
 * name is public and identity never renames one, so the first announcement is the
 * truth. Its limits: a name arrives a moment after the centre is created, and a centre
 * announced before this table existed and since dropped from the topic (7 days) is never
 * learned; the certificate then says "Vaccination centre" (record-rules.ts), never an id.
 */
export const centresMigration: Migration = {
  id: 'vaccination-record/0002_centres',
  sql: `
    CREATE TABLE centres (
      centre_id text PRIMARY KEY,
      name text NOT NULL,
      event_id uuid NOT NULL
    );
  `,
};

/** The consumer group the projection reads in (and its name in processed_events). */
export const CENTRES_CONSUMER_GROUP = 'vaccination-record-centres';

/**
 * Reads identity's centre.created announcements into the centres table, each once; the
 * other events of identity's topic are passed over without a trace. Idempotent twice
 * over: an event id applied before is skipped, and a centre id known before keeps its
 * first name.
 */
export async function startCentreProjection(options: {
  readonly kafka: Kafka;
  readonly pool: Pool;
  readonly logger: Logger;
  /** Where the group's lag is watched (the runtime's consumerLag). */
  readonly lag?: ConsumerLagMonitor;
}): Promise<IdempotentConsumer> {
  await ensureTopics(options.kafka, [topicSpec(EVENTS.centreCreated.topic)]);
  return IdempotentConsumer.startBatched({
    kafka: options.kafka,
    pool: options.pool,
    groupId: CENTRES_CONSUMER_GROUP,
    ...(options.lag ? { lag: options.lag } : {}),
    topics: [EVENTS.centreCreated.topic],
    events: [EVENTS.centreCreated],
    logger: options.logger,
    handleBatch: async (events: readonly ConsumedEvent[], tx) => {
      for (const { event } of events) {
        if (!isEvent(event, EVENTS.centreCreated)) continue;
        const { centreId, name } = event.payload;
        if (!centreId || !name.trim()) continue;
        await tx.query(
          `INSERT INTO centres (centre_id, name, event_id) VALUES ($1, $2, $3)
           ON CONFLICT (centre_id) DO NOTHING`,
          [centreId, name.trim(), event.envelope.eventId],
        );
      }
    },
  });
}

export class PgCentreDirectory implements CentreDirectory {
  constructor(private readonly db: Queryable) {}

  async names(centreIds: readonly string[]): Promise<ReadonlyMap<string, string>> {
    const ids = [...new Set(centreIds)];
    if (ids.length === 0) return new Map();
    const { rows } = await this.db.query<{ centre_id: string; name: string }>(
      'SELECT centre_id, name FROM centres WHERE centre_id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((row) => [row.centre_id, row.name]));
  }
}
