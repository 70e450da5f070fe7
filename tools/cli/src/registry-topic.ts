// The access registry (partners, suspensions, API locks) lives in a compacted Kafka
// topic that every service reads from its beginning at start: it is state, not a stream,
// and a fresh platform's Kafka would not have it. A backup copies its records to a file
// (one JSON object a line); a restore writes them to the new platform's topic before its
// services start. Records are copied as bytes: nothing here decodes or holds an event.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { Kafka, logLevel } from 'kafkajs';
import { ACCESS_REGISTRY_TOPIC, topicSpec } from '@vaxguard/event-catalogue';
import { ensureTopics } from '@vaxguard/events';

/** One record as the backup file holds it (bytes in base64). */
export interface TopicRecordLine {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

const b64 = (bytes: Buffer | null | undefined) => (bytes ? bytes.toString('base64') : null);

function kafkaOf(brokers: string): Kafka {
  return new Kafka({
    clientId: 'vaxguard-cli-backup',
    brokers: brokers.split(','),
    connectionTimeout: 5_000,
    retry: { retries: 3 },
    logLevel: logLevel.NOTHING,
  });
}

/** How many records each partition holds up to now (its high watermark); none when absent. */
async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((offset) => [offset.partition, BigInt(offset.high)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Copies the access registry's records, up to its end when the copy began, to `file`.
 * Returns how many. A private consumer group reads it and is deleted afterwards.
 */
export async function copyRegistryTopic(
  brokers: string,
  file: string,
  timeoutMs = 60_000,
): Promise<number> {
  const kafka = kafkaOf(brokers);
  const topic = ACCESS_REGISTRY_TOPIC;
  const out = createWriteStream(file, { mode: 0o600 });
  let records = 0;
  try {
    const ends = await highWatermarks(kafka, topic);
    const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
    if (pending.size > 0) {
      const groupId = `vaxguard-backup-${randomBytes(6).toString('hex')}`;
      const consumer = kafka.consumer({ groupId });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        let finish: () => void = () => undefined;
        const done = new Promise<void>((resolve) => (finish = resolve));
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition) ?? 0n;
            if (BigInt(message.offset) >= end) return;
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(message.headers ?? {})) {
              if (Buffer.isBuffer(value)) headers[name] = value.toString('base64');
              else if (typeof value === 'string')
                headers[name] = Buffer.from(value).toString('base64');
            }
            const line: TopicRecordLine = {
              partition,
              offset: message.offset,
              timestamp: message.timestamp,
              key: b64(message.key),
              value: b64(message.value),
              headers,
            };
            if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
            records++;
            if (BigInt(message.offset) + 1n >= end) {
              pending.delete(partition);
              if (pending.size === 0) finish();
            }
          },
        });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          done,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${topic} was not read to its end in ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]).finally(() => clearTimeout(timer));
      } finally {
        await consumer.disconnect();
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteGroups([groupId]).catch(() => undefined);
        await admin.disconnect();
      }
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return records;
}

/** How many records the access registry topic holds now (0 when it does not exist). */
export async function registryRecordCount(brokers: string): Promise<number> {
  const ends = await highWatermarks(kafkaOf(brokers), ACCESS_REGISTRY_TOPIC);
  return Number([...ends.values()].reduce((sum, end) => sum + end, 0n));
}

/**
 * Writes the records of a backup's file to the access registry topic (created as the
 * platform creates it), in their order, with their keys, headers and timestamps.
 */
export async function restoreRegistryTopic(brokers: string, file: string): Promise<number> {
  const kafka = kafkaOf(brokers);
  const lines = (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TopicRecordLine);
  await ensureTopics(kafka, [topicSpec(ACCESS_REGISTRY_TOPIC)], 30_000);
  if (lines.length === 0) return 0;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const ordered = [...lines].sort(
      (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
    );
    for (let i = 0; i < ordered.length; i += 500) {
      await producer.send({
        topic: ACCESS_REGISTRY_TOPIC,
        acks: -1,
        messages: ordered.slice(i, i + 500).map((line) => ({
          key: line.key === null ? null : Buffer.from(line.key, 'base64'),
          value: line.value === null ? null : Buffer.from(line.value, 'base64'),
          timestamp: line.timestamp,
          headers: Object.fromEntries(
            Object.entries(line.headers).map(([name, value]) => [
              name,
              Buffer.from(value, 'base64'),
            ]),
          ),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
  return lines.length;
}
