import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { topicSpec, type DecodedEvent, type EventDefinition } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';
import { CountingDecoder, type DecodingStats } from './decoding';
import { ensureTopics } from './kafka';

export interface BroadcastListenerOptions {
  readonly kafka: Kafka;
  /** Names the listener in logs and in its transient consumer group. */
  readonly name: string;
  /** The event types to hear; their topics are read, other types on them are passed over. */
  readonly events: readonly EventDefinition[];
  /** Events published before this cannot matter any more: reading starts here. */
  readonly since: Date;
  readonly logger: Logger;
  readonly onEvent: (event: DecodedEvent) => void | Promise<void>;
  /** How long start() waits to have read what was already published (default 15 s). */
  readonly catchUpTimeoutMs?: number;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** The end of the partition when the listener started: caught up once read to here. */
  readonly endAtStart: bigint;
  /** The next offset to read: at first, the first offset at or after `since`. */
  next: bigint;
}

/**
 * Every instance hears every event of some types, from a point in time on: how each
 * service learns revocations (and, later, suspensions and locks) without a database
 * round trip per call. Unlike a work-sharing consumer group, each process reads all
 * partitions: its group is private, commits no offsets, seeks by timestamp to `since`,
 * and is deleted when the listener stops (an instance that dies leaves an empty group
 * with no offsets, which the broker drops on its own). start() returns once what was
 * already published has been read, so a service serves nothing before it knows.
 */
export class BroadcastListener {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    private readonly groupId: string,
    private readonly decoder: CountingDecoder,
    private readonly logger: Logger,
  ) {}

  static async start(options: BroadcastListenerOptions): Promise<BroadcastListener> {
    const logger = options.logger.child({ listener: options.name });
    const topics = [...new Set(options.events.map((definition) => definition.topic))];
    const wanted = new Set(options.events.map((definition) => definition.name));
    await ensureTopics(options.kafka, topics.map(topicSpec));
    const admin = options.kafka.admin();
    await admin.connect();
    const groupId = `${options.name}.${randomUUID()}`;
    const consumer = options.kafka.consumer({
      groupId,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    const listener = new BroadcastListener(
      consumer,
      admin,
      groupId,
      new CountingDecoder(logger),
      logger,
    );
    try {
      const partitions = await retryWhileRetriable(() =>
        startingPoints(admin, topics, options.since),
      );
      const key = (topic: string, partition: number) => `${topic}/${partition}`;
      const states = new Map(partitions.map((state) => [key(state.topic, state.partition), state]));
      let caughtUp: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (caughtUp = resolve));
      const checkCaughtUp = (): void => {
        if ([...states.values()].every((state) => state.next >= state.endAtStart)) caughtUp();
      };

      // No offsets are committed, so every (re)join would start at the end: seek each
      // partition to where this listener has read to, or to its starting point.
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const state of states.values()) {
          consumer.seek({
            topic: state.topic,
            partition: state.partition,
            offset: String(state.next),
          });
        }
      });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const state = states.get(key(topic, partition));
          const offset = BigInt(message.offset);
          if (state && offset < state.next) return;
          const event = listener.decoder.decode(topic, partition, message);
          if (event && wanted.has(event.name)) await options.onEvent(event);
          if (state) {
            state.next = offset + 1n;
            checkCaughtUp();
          }
        },
      });
      checkCaughtUp();
      const timeoutMs = options.catchUpTimeoutMs ?? 15_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        ready.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        logger.warn('serving before the listener caught up with what was already published', {
          timeoutMs,
        });
      } else {
        logger.info('listener caught up', { since: options.since.toISOString() });
      }
    } catch (error) {
      await listener.stop().catch(() => undefined);
      throw error;
    }
    return listener;
  }

  get stats(): DecodingStats {
    return this.decoder.stats;
  }

  /** Stops reading and deletes the listener's consumer group; later calls wait for the first. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
    try {
      await this.admin.deleteGroups([this.groupId]);
    } catch (error) {
      this.logger.warn('could not delete the listener group; the broker drops it later', {
        err: error,
      });
    } finally {
      await this.admin.disconnect().catch(() => undefined);
    }
  }
}

async function startingPoints(
  admin: Admin,
  topics: readonly string[],
  since: Date,
): Promise<PartitionState[]> {
  const states: PartitionState[] = [];
  for (const topic of topics) {
    const [starts, ends] = await Promise.all([
      admin.fetchTopicOffsetsByTimestamp(topic, since.getTime()),
      admin.fetchTopicOffsets(topic),
    ]);
    for (const end of ends) {
      const high = BigInt(end.high);
      const found = starts.find((start) => start.partition === end.partition)?.offset;
      // No message at or after `since`: start at the end.
      const start = found === undefined || BigInt(found) < 0n ? high : BigInt(found);
      states.push({
        topic,
        partition: end.partition,
        endAtStart: high,
        next: start,
      });
    }
  }
  return states;
}

/**
 * Runs `work` again while Kafka answers with a retriable error (a partition whose
 * leader is still being elected on a broker that has just started or just created the
 * topic), for up to `timeoutMs`.
 */
async function retryWhileRetriable<T>(work: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await work();
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true;
      if (!retriable || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
