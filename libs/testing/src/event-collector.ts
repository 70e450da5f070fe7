import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { eventsV1 } from '@vaxguard/proto';
import { eventually } from './eventually';

/**
 * Reads every message of some topics from the beginning, as a test's observer: the
 * decoded envelopes, and the raw bytes for scans that look for leaked identifiers.
 */
export class EventCollector {
  readonly events: eventsV1.EventEnvelope[] = [];
  readonly rawMessages: Buffer[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(
    brokers: readonly string[],
    topics: readonly string[],
  ): Promise<EventCollector> {
    const kafka = new Kafka({
      clientId: 'test-collector',
      brokers: [...brokers],
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({ groupId: `test-collector-${randomUUID()}` });
    const collector = new EventCollector(consumer);
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [...topics], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          collector.rawMessages.push(message.value);
          if (message.key) collector.rawMessages.push(message.key);
          // A compacted registry record is not an envelope: its bytes are still collected.
          try {
            collector.events.push(eventsV1.EventEnvelope.decode(message.value));
          } catch {
            // not an EventEnvelope
          }
        },
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    return collector;
  }

  ofType(type: string): eventsV1.EventEnvelope[] {
    return this.events.filter((event) => event.type === type);
  }

  /** Waits until `count` events match. */
  async waitFor(
    predicate: (event: eventsV1.EventEnvelope) => boolean,
    count = 1,
    timeoutMs = 30_000,
  ): Promise<eventsV1.EventEnvelope[]> {
    return eventually(
      () => {
        const matching = this.events.filter(predicate);
        if (matching.length < count)
          throw new Error(`saw ${matching.length} of ${count} expected events`);
        return matching;
      },
      { timeoutMs },
    );
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
