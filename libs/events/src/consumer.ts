import type { Consumer, Kafka } from 'kafkajs';
import type pg from 'pg';
import { withTransaction } from '@vaxguard/db';
import type { DecodedEvent } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';
import { CountingDecoder, type DecodingStats } from './decoding';

export interface EventContext {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export type EventHandler = (
  event: DecodedEvent,
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

export interface ConsumerStats extends DecodingStats {
  /** Events applied for the first time. */
  readonly applied: number;
  /** Redeliveries recognised by event id and skipped. */
  readonly duplicates: number;
}

/**
 * Consumes events and applies each exactly once: the event id is recorded in the
 * consumer's own database in the same transaction as the handler's changes, so a
 * redelivered event (relay resend, rebalance, crash before the offset commit) is
 * recognised and skipped. Whatever arrives is decoded through the event catalogue;
 * what cannot be decoded is counted, logged without its content, and skipped.
 */
export class IdempotentConsumer {
  private applied = 0;
  private duplicates = 0;

  private constructor(
    private readonly consumer: Consumer,
    private readonly decoder: CountingDecoder,
    private readonly logger: Logger,
  ) {}

  static async start(options: IdempotentConsumerOptions): Promise<IdempotentConsumer> {
    const logger = options.logger.child({ consumer: options.groupId });
    const consumer = options.kafka.consumer({
      groupId: options.groupId,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    const self = new IdempotentConsumer(consumer, new CountingDecoder(logger), logger);
    await consumer.connect();
    try {
      await consumer.subscribe({
        topics: [...options.topics],
        fromBeginning: options.fromBeginning ?? true,
      });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const event = self.decoder.decode(topic, partition, message);
          if (!event) return;
          const first = await applyOnce(options, event, {
            topic,
            partition,
            offset: message.offset,
          });
          if (first) self.applied++;
          else self.duplicates++;
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    return self;
  }

  get stats(): ConsumerStats {
    return { ...this.decoder.stats, applied: this.applied, duplicates: this.duplicates };
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    this.logger.info('consumer stopped', { ...this.stats });
  }
}

async function applyOnce(
  options: IdempotentConsumerOptions,
  event: DecodedEvent,
  context: EventContext,
): Promise<boolean> {
  return withTransaction(options.pool, async (tx) => {
    const { rowCount } = await tx.query(
      `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
       ON CONFLICT DO NOTHING`,
      [options.groupId, event.envelope.eventId],
    );
    if (rowCount === 0) return false;
    await options.handle(event, tx, context);
    return true;
  });
}
