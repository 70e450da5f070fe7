import type { Kafka } from 'kafkajs';
import type { Pool } from '@vaxguard/db';
import { ALL_EVENT_TOPICS, eventIdTime, type DecodedEvent } from '@vaxguard/event-catalogue';
import {
  IdempotentConsumer,
  type ConsumedEvent,
  type ConsumerLagMonitor,
  type EventContext,
} from '@vaxguard/events';
import type { Logger } from '@vaxguard/logging';
import { eventsV1 } from '@vaxguard/proto';
import { DEDUP_WINDOW_MS, MAX_EVENT_AGE_MS, tooOldToAppend } from '../domain/log-rules';
import type { LogWriter } from '../domain/log-writer';
import type { AuditRecord, Clock } from '../domain/model';
import { recordDirectory } from './pg-directory';
import { PgLogTransaction } from './pg-log-store';

/** The consumer group the log is read in (and its name in processed_events). */
export const AUDIT_LOG_CONSUMER_GROUP = 'audit-log';

/** An event as the log records it: the envelope's fields, enums by their proto names. */
export function auditRecordOf(
  event: DecodedEvent,
  context: EventContext,
  ingestedAt: Date,
): AuditRecord {
  const { envelope } = event;
  return {
    event: {
      eventId: envelope.eventId,
      type: envelope.type,
      occurredAt: envelope.occurredAt ?? new Date(0),
      producer: envelope.producer,
      actor: {
        kind: eventsV1.actorKindToJSON(envelope.actor?.kind ?? 0),
        principalId: envelope.actor?.principalId ?? '',
        clientId: envelope.actor?.clientId ?? '',
      },
      subject: {
        kind: eventsV1.subjectKindToJSON(envelope.subject?.kind ?? 0),
        ref: envelope.subject?.ref ?? '',
      },
      payload: {
        typeUrl: envelope.payload?.typeUrl ?? '',
        value: envelope.payload?.value ?? new Uint8Array(),
      },
      correlationId: envelope.correlationId,
    },
    ingestion: {
      topic: context.topic,
      partition: context.partition,
      offset: context.offset,
      ingestedAt,
    },
  };
}

/**
 * When an event was made, for the dedup window: its UUIDv7 id's time, which the id
 * itself carries (and so cannot differ between deliveries); for an event made before
 * ids were UUIDv7, its occurred_at; undefined when it carries neither (not judged).
 */
export function madeAtOf(event: DecodedEvent): Date | undefined {
  const { envelope } = event;
  return eventIdTime(envelope.eventId) ?? envelope.occurredAt;
}

/**
 * Reads every event topic of the platform in one consumer group and appends each event
 * once: a Kafka batch is one PostgreSQL transaction that records the event ids, stores
 * the entries and tree nodes, signs a checkpoint when one is due, and adds the names
 * identity announced (centres, staff roles, partners) to the log's directory.
 *
 * "Once" rests on the consumer's processed_events alone, kept DEDUP_WINDOW_MS (entries
 * are partitioned by index: no unique index holds every event id). An event made longer
 * ago than MAX_EVENT_AGE_MS is refused (log-rules tooOldToAppend): logged with its id
 * (with where it was read), never appended, since its first delivery may have
 * been appended and forgotten.
 */
export function startLogIngestion(options: {
  readonly kafka: Kafka;
  readonly pool: Pool;
  readonly writer: LogWriter;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the group's lag is watched (the runtime's consumerLag). */
  readonly lag?: ConsumerLagMonitor;
}): Promise<IdempotentConsumer> {
  return IdempotentConsumer.startBatched({
    kafka: options.kafka,
    pool: options.pool,
    groupId: AUDIT_LOG_CONSUMER_GROUP,
    ...(options.lag ? { lag: options.lag } : {}),
    topics: ALL_EVENT_TOPICS,
    logger: options.logger,
    processedRetentionMs: DEDUP_WINDOW_MS,
    // One batch is encoded and hashed while another holds the log's head.
    partitionsConsumedConcurrently: 2,
    handleBatch: async (events: readonly ConsumedEvent[], tx) => {
      const ingestedAt = options.clock();
      const fresh = events.filter(({ event, context }) => {
        const madeAt = madeAtOf(event);
        if (!madeAt || !tooOldToAppend(madeAt, ingestedAt)) return true;
        options.logger.warn('event older than the dedup window refused, not appended', {
          eventId: event.envelope.eventId,
          eventType: event.envelope.type,
          producer: event.envelope.producer,
          madeAt: madeAt.toISOString(),
          maxAgeMs: MAX_EVENT_AGE_MS,
          ...context,
        });
        return false;
      });
      await options.writer.append(
        new PgLogTransaction(tx),
        fresh.map(({ event, context }) => auditRecordOf(event, context, ingestedAt)),
      );
      await recordDirectory(
        tx,
        fresh.map(({ event }) => event),
      );
    },
  });
}
