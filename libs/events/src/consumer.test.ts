import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { IdempotentConsumer } from './consumer';

describe('IdempotentConsumer options', () => {
  const base = {
    // Never reached: the options are refused before anything connects.
    kafka: {} as Kafka,
    pool: {} as pg.Pool,
    groupId: 'audit-log',
    topics: ['vaxguard.test.events'],
    logger: createLogger({ service: 'consumer-test', sink: new MemoryLogSink() }),
  };

  it.each([
    { transactionRetries: -1 },
    { transactionRetries: 1.5 },
    { processedRetentionMs: 0 },
    { pruneIntervalMs: Number.NaN },
    { pruneBatchSize: 0 },
  ])('refuses %o at start, naming the consumer and the option', async (bad) => {
    const [name] = Object.keys(bad);
    await expect(
      IdempotentConsumer.start({ ...base, handle: async () => undefined, ...bad }),
    ).rejects.toThrow(new RegExp(`consumer audit-log: ${name} must be an integer`));
    await expect(
      IdempotentConsumer.startBatched({ ...base, handleBatch: async () => undefined, ...bad }),
    ).rejects.toThrow(RangeError);
  });
});
