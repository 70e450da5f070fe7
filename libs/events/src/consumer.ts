import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { context as traceContext } from '@opentelemetry/api';
import type pg from 'pg';
import { withTransaction } from '@vaxguard/db';
import type { DecodedEvent, EventDefinition } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';
import { startProcessSpan, TRACEPARENT_HEADER, type MessageSpan } from '@vaxguard/tracing';
import type { ConsumerLagMonitor } from './consumer-lag';
import { CountingDecoder, type DecodingStats } from './decoding';
import { ProcessedEventsPruner } from './pruning';
import {
  PROCESSED_EVENTS_PRUNE_BATCH_SIZE,
  PROCESSED_EVENTS_PRUNE_INTERVAL_MS,
  PROCESSED_EVENTS_RETENTION_MS,
} from './retention-rules';

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
  /**
   * The event types this consumer applies, when it needs only some of what its topics
   * carry: the others are passed over, neither handled nor recorded in processed_events
   * (a consumer of a few types on a busy topic keeps no id of every other event).
   * Default: every event.
   */
  readonly events?: readonly EventDefinition[];
  readonly fromBeginning?: boolean;
  readonly logger: Logger;
  readonly handle: EventHandler;
  /**
   * Times a transaction that failed on a deadlock or a serialization failure is rolled
   * back and run again in place (default 3) before the failure goes to Kafka, which
   * delivers the messages again. Handlers must be safe to run again after a rollback.
   */
  readonly transactionRetries?: number;
  /** How long an applied event's id is kept to recognise its redelivery (default 7 days). */
  readonly processedRetentionMs?: number;
  /** Pause between two prunes of expired event ids (default 10 minutes). */
  readonly pruneIntervalMs?: number;
  /** Expired event ids deleted per statement (default 1,000). */
  readonly pruneBatchSize?: number;
  /** Where the group's lag is watched (the service runtime's `consumerLag`), if anywhere. */
  readonly lag?: ConsumerLagMonitor;
}

/** One event of a batch, with where it was read. */
export interface ConsumedEvent {
  readonly event: DecodedEvent;
  readonly context: EventContext;
}

/**
 * Applies a batch of events, each seen for the first time, in the order read, within
 * one transaction: for consumers whose work is cheaper done many events at a time.
 */
export type EventBatchHandler = (
  events: readonly ConsumedEvent[],
  tx: pg.PoolClient,
) => Promise<void>;

export interface IdempotentBatchConsumerOptions extends Omit<IdempotentConsumerOptions, 'handle'> {
  readonly handleBatch: EventBatchHandler;
  /** At most this many events per transaction (a Kafka batch is split beyond it). */
  readonly maxBatchSize?: number;
  /** Partitions whose batches are applied at the same time (kafkajs; default 1). */
  readonly partitionsConsumedConcurrently?: number;
}

const DEFAULT_MAX_BATCH_SIZE = 5_000;
const DEFAULT_TRANSACTION_RETRIES = 3;
/**
 * How long the group waits for a member that stopped heartbeating before it gives that
 * member's partitions to the others, and how often a member heartbeats. An instance
 * killed outright (SIGKILL, a lost node) never says it leaves: with kafkajs' 30 s its
 * partitions went unread for 30 s, and an instance started meanwhile could not join the
 * group (nor report SERVING) until then, as the chaos suite measured (issue 18). 10 s is
 * above the broker's minimum (6 s) and leaves a batch nine heartbeats' room.
 */
export const CONSUMER_SESSION_TIMEOUT_MS = 10_000;
export const CONSUMER_HEARTBEAT_INTERVAL_MS = 1_000;

interface CompiledConsumerOptions {
  readonly transactionRetries: number;
  readonly processedRetentionMs: number;
  readonly pruneIntervalMs: number;
  readonly pruneBatchSize: number;
}

function compileOptions(options: IdempotentConsumerOptions | IdempotentBatchConsumerOptions) {
  const compiled: CompiledConsumerOptions = {
    transactionRetries: options.transactionRetries ?? DEFAULT_TRANSACTION_RETRIES,
    processedRetentionMs: options.processedRetentionMs ?? PROCESSED_EVENTS_RETENTION_MS,
    pruneIntervalMs: options.pruneIntervalMs ?? PROCESSED_EVENTS_PRUNE_INTERVAL_MS,
    pruneBatchSize: options.pruneBatchSize ?? PROCESSED_EVENTS_PRUNE_BATCH_SIZE,
  };
  const atLeast = (name: keyof CompiledConsumerOptions, min: number): void => {
    const value = compiled[name];
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(
        `consumer ${options.groupId}: ${name} must be an integer of at least ${min}, got ${value}`,
      );
    }
  };
  atLeast('transactionRetries', 0);
  atLeast('processedRetentionMs', 1);
  atLeast('pruneIntervalMs', 1);
  atLeast('pruneBatchSize', 1);
  return compiled;
}

export interface ConsumerStats extends DecodingStats {
  /** Events applied for the first time. */
  readonly applied: number;
  /** Redeliveries recognised by event id and skipped. */
  readonly duplicates: number;
  /** Transactions run again in place after a deadlock or serialization failure. */
  readonly retried: number;
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
  private retried = 0;
  private unwatchLag: (() => void) | undefined;

  private constructor(
    private readonly consumer: Consumer,
    private readonly decoder: CountingDecoder,
    private readonly pruner: ProcessedEventsPruner,
    private readonly logger: Logger,
    private readonly transactionRetries: number,
    /** The names of the event types applied; undefined for all. */
    private readonly wanted: ReadonlySet<string> | undefined,
  ) {}

  /** The message decoded, when it is an event of a type this consumer applies. */
  private read(topic: string, partition: number, message: KafkaMessage): DecodedEvent | undefined {
    const event = this.decoder.decode(topic, partition, message);
    return event && (!this.wanted || this.wanted.has(event.name)) ? event : undefined;
  }

  /** The consumer, its pruner of expired event ids, not yet connected. */
  private static create(
    options: IdempotentConsumerOptions | IdempotentBatchConsumerOptions,
  ): IdempotentConsumer {
    const compiled = compileOptions(options);
    const logger = options.logger.child({ consumer: options.groupId });
    const consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: CONSUMER_HEARTBEAT_INTERVAL_MS,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    const pruner = new ProcessedEventsPruner({
      pool: options.pool,
      consumer: options.groupId,
      retentionMs: compiled.processedRetentionMs,
      intervalMs: compiled.pruneIntervalMs,
      batchSize: compiled.pruneBatchSize,
      logger,
    });
    return new IdempotentConsumer(
      consumer,
      new CountingDecoder(logger),
      pruner,
      logger,
      compiled.transactionRetries,
      options.events && new Set(options.events.map((definition) => definition.name)),
    );
  }

  static async start(options: IdempotentConsumerOptions): Promise<IdempotentConsumer> {
    const self = IdempotentConsumer.create(options);
    const { consumer } = self;
    await consumer.connect();
    try {
      await consumer.subscribe({
        topics: [...options.topics],
        fromBeginning: options.fromBeginning ?? true,
      });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const event = self.read(topic, partition, message);
          if (!event) return;
          const context = { topic, partition, offset: message.offset };
          const span = processSpan(options.groupId, event, context, message);
          let first: boolean;
          try {
            // The handler's log lines and the events it writes belong to the event's trace.
            first = await traceContext.with(span.context, () =>
              self.inTransaction(options.pool, context, (tx) =>
                applyOnce(options, event, context, tx),
              ),
            );
          } catch (error) {
            span.end(error);
            throw error;
          }
          span.end();
          if (first) self.applied++;
          else self.duplicates++;
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    self.pruner.start();
    self.unwatchLag = options.lag?.watch(options.groupId, options.topics);
    return self;
  }

  /**
   * Like start, but applies the events of each Kafka batch (one partition's messages)
   * together: the batch's event ids are recorded in one statement and the handler gets
   * the ones not seen before, in one transaction. Offsets are committed only after it.
   */
  static async startBatched(options: IdempotentBatchConsumerOptions): Promise<IdempotentConsumer> {
    const self = IdempotentConsumer.create(options);
    const { consumer } = self;
    const maxBatchSize = options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE;
    await consumer.connect();
    try {
      await consumer.subscribe({
        topics: [...options.topics],
        fromBeginning: options.fromBeginning ?? true,
      });
      await consumer.run({
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const { topic, partition } = batch;
          for (let start = 0; start < batch.messages.length; start += maxBatchSize) {
            if (!payload.isRunning() || payload.isStale()) return;
            const chunk = batch.messages.slice(start, start + maxBatchSize);
            const consumed: ConsumedEvent[] = [];
            // One span per traced event, each in its own writer's trace, all ended when
            // the batch's transaction is.
            const spans: MessageSpan[] = [];
            for (const message of chunk) {
              const event = self.read(topic, partition, message);
              if (event) {
                const context = { topic, partition, offset: message.offset };
                consumed.push({ event, context });
                spans.push(processSpan(options.groupId, event, context, message));
              }
            }
            const first = consumed[0];
            let applied: number;
            try {
              applied = first
                ? await self.inTransaction(options.pool, first.context, (tx) =>
                    applyBatchOnce(options, consumed, tx),
                  )
                : 0;
            } catch (error) {
              for (const span of spans) span.end(error);
              throw error;
            }
            for (const span of spans) span.end();
            self.applied += applied;
            self.duplicates += consumed.length - applied;
            const last = chunk.at(-1);
            if (last) payload.resolveOffset(last.offset);
            await payload.heartbeat();
          }
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    self.pruner.start();
    self.unwatchLag = options.lag?.watch(options.groupId, options.topics);
    return self;
  }

  get stats(): ConsumerStats {
    return {
      ...this.decoder.stats,
      applied: this.applied,
      duplicates: this.duplicates,
      retried: this.retried,
    };
  }

  async stop(): Promise<void> {
    this.unwatchLag?.();
    await Promise.all([this.pruner.stop(), this.consumer.disconnect()]);
    this.logger.info('consumer stopped', { ...this.stats });
  }

  /**
   * Runs `work` in a transaction, run again in place (after its rollback) on a deadlock
   * or serialization failure up to the retries allowed; each retry is counted and logged.
   */
  private async inTransaction<T>(
    pool: pg.Pool,
    from: EventContext,
    work: (tx: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    let attempt = 0;
    return withTransaction(
      pool,
      async (tx) => {
        if (attempt++ > 0) {
          this.retried++;
          this.logger.warn('deadlock or serialization failure: rolled back, running again', {
            ...from,
            attempt,
          });
        }
        return work(tx);
      },
      { retries: this.transactionRetries },
    );
  }
}

/** A message's `traceparent` header, as kafkajs hands headers over (bytes or text). */
function traceparentOf(message: KafkaMessage): string | undefined {
  const value = message.headers?.[TRACEPARENT_HEADER];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** The span of one event's consumption, in the trace the message carries (if any). */
function processSpan(
  groupId: string,
  event: DecodedEvent,
  context: EventContext,
  message: KafkaMessage,
): MessageSpan {
  return startProcessSpan(traceparentOf(message), {
    topic: context.topic,
    partition: context.partition,
    offset: context.offset,
    consumerGroup: groupId,
    eventType: event.envelope.type,
    eventId: event.envelope.eventId,
  });
}

async function applyOnce(
  options: IdempotentConsumerOptions,
  event: DecodedEvent,
  context: EventContext,
  tx: pg.PoolClient,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)
     ON CONFLICT DO NOTHING`,
    [options.groupId, event.envelope.eventId],
  );
  if (rowCount === 0) return false;
  await options.handle(event, tx, context);
  return true;
}

/** Records the batch's event ids; hands the handler those recorded for the first time. */
async function applyBatchOnce(
  options: IdempotentBatchConsumerOptions,
  consumed: readonly ConsumedEvent[],
  tx: pg.PoolClient,
): Promise<number> {
  const { rows } = await tx.query<{ event_id: string }>(
    `INSERT INTO processed_events (consumer, event_id)
     SELECT $1, id FROM unnest($2::uuid[]) AS id
     ON CONFLICT DO NOTHING RETURNING event_id`,
    [options.groupId, consumed.map(({ event }) => event.envelope.eventId)],
  );
  const fresh = new Set(rows.map((row) => row.event_id));
  // A redelivery inside the same batch is recorded once and applied once: the first.
  const first = consumed.filter(({ event }) => fresh.delete(event.envelope.eventId.toLowerCase()));
  if (first.length > 0) await options.handleBatch(first, tx);
  return first.length;
}
