import type { Consumer, Kafka } from 'kafkajs';
import type pg from 'pg';
import { withTransaction } from '@vaxguard/db';
import type { Logger } from '@vaxguard/logging';
import { decodeEnvelope, EventDecodeError, type EventEnvelope } from './envelope';

export interface EventContext {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export type EventHandler = (
  event: EventEnvelope,
  tx: pg.PoolClient,
  context: EventContext,
) => Promise<void>;

export interface IdempotentConsumerOptions {
  readonly kafka: Kafka;
  readonly pool: pg.Pool;
  /** Kafka consumer group, and the name under which processed events are recorded. */
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning?: boolean;
  readonly logger: Logger;
  readonly handle: EventHandler;
}

/**
 * Consumes events and applies each exactly once: the event id is recorded in the
 * consumer's own database in the same transaction as the handler's changes, so a
 * redelivered event (relay resend, rebalance, crash before the offset commit) is
 * recognised and skipped.
 */
export class IdempotentConsumer {
  private constructor(
    private readonly consumer: Consumer,
    private readonly logger: Logger,
  ) {}

  static async start(options: IdempotentConsumerOptions): Promise<IdempotentConsumer> {
    const logger = options.logger.child({ consumer: options.groupId });
    const consumer = options.kafka.consumer({
      groupId: options.groupId,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await consumer.connect();
    try {
      await consumer.subscribe({
        topics: [...options.topics],
        fromBeginning: options.fromBeginning ?? true,
      });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          if (!message.value) return;
          let event: EventEnvelope;
          try {
            event = decodeEnvelope(message.value);
          } catch (error) {
            if (!(error instanceof EventDecodeError)) throw error;
            // A message that is not an event can never be applied; skipping it keeps
            // the partition moving. Its bytes are not logged: they may hold anything.
            logger.error('skipping undecodable message', {
              topic,
              partition,
              offset: message.offset,
            });
            return;
          }
          await applyOnce(options, event, { topic, partition, offset: message.offset });
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    return new IdempotentConsumer(consumer, logger);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    this.logger.info('consumer stopped');
  }
}

async function applyOnce(
  options: IdempotentConsumerOptions,
  event: EventEnvelope,
  context: EventContext,
): Promise<boolean> {
  return withTransaction(options.pool, async (tx) => {
    const { rowCount } = await tx.query(
      `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING`,
      [options.groupId, event.eventId],
    );
    if (rowCount === 0) return false;
    await options.handle(event, tx, context);
    return true;
  });
}
