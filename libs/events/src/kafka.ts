import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { TopicSpec } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';

export interface KafkaOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly logger: Logger;
}

/** A kafkajs client whose own logs go through our redacting logger. */
export function createKafka(options: KafkaOptions): Kafka {
  const logger = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...fields } = log;
        const text = `kafka: ${message}`;
        if (kafkaLogSeverity(level, message) === 'error') logger.error(text, fields);
        else logger.warn(text, fields);
      },
  });
}

/**
 * How loud a kafkajs log line should be in ours. kafkajs logs every error response from
 * a broker ("Response GroupCoordinator…: The group coordinator is not available", as a
 * broker that has just started answers) at error level, and then throws the same error to
 * its caller, which retries it or fails with it in its own log. Those lines are warnings:
 * the failure that matters is logged once, by whoever gives up.
 */
export function kafkaLogSeverity(level: logLevel, message: string): 'error' | 'warn' {
  if (level > logLevel.ERROR) return 'warn';
  return message.startsWith('Response ') ? 'warn' : 'error';
}

/**
 * Creates the topics that do not exist yet; existing ones are left as they are. A
 * broker that has just started may not have elected leaders yet, so this retries for
 * up to `timeoutMs` before giving up.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly TopicSpec[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 4_000)) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic.topic));
      if (missing.length > 0) {
        await admin.createTopics({
          topics: missing.map((spec) => ({
            topic: spec.topic,
            numPartitions: spec.numPartitions,
            configEntries: [...(spec.configEntries ?? [])],
          })),
          waitForLeaders: true,
        });
      }
      return;
    } catch (error) {
      if (Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      await admin.disconnect();
    }
  }
}
