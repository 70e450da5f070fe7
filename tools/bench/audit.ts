// The audit log's append rate with checkpoints, against the rate at which a bare
// kafkajs consumer reads the same topic in the same run (the ceiling: no decoding, no
// PostgreSQL). Real PostgreSQL and Kafka (Testcontainers); the built audit service as
// its own process, reading a topic filled beforehand with catalogue events, each with
// its own id. Both rates run from the first event read to the last. Prints figures,
// asserts nothing: these machines are shared and noisy.
//   npx nx run-many -t build -p audit && tsx --tsconfig tools/tsconfig.json tools/bench/audit.ts
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  topicSpec,
} from '@vaxguard/event-catalogue';
import { spawnService, startKafka, startPostgres, testClient } from '@vaxguard/testing';
import { generateSignerKey } from '@vaxguard/tlog';
import { runBenchmark } from './harness';

const EVENT_COUNT = Number(process.env['BENCH_AUDIT_EVENTS'] ?? 100_000);
const AUDIT_NODE_OPTIONS = process.env['BENCH_AUDIT_NODE_OPTIONS'];
const TOPIC = EVENTS.accessGranted.topic;
const PRODUCE_BATCH = 2_000;
const POLL_MS = 50;
const TIMEOUT_MS = 10 * 60_000;

/** Events of a day at a busy platform: staff reading beneficiaries, each a distinct event. */
function* events(count: number) {
  for (let i = 0; i < count; i++) {
    yield buildEvent(EVENTS.accessGranted, {
      actor: {
        kind: ActorKind.ACTOR_KIND_STAFF,
        principalId: `stf_${i % 500}`,
        clientId: 'console',
      },
      subject: {
        kind: SubjectKind.SUBJECT_KIND_BENEFICIARY,
        ref: `bnf_${randomBytes(13).toString('hex').slice(0, 26)}`,
      },
      payload: {
        method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
        basis: 'CONSENT',
        grantId: `grant-${i}`,
      },
      occurredAt: new Date(),
    });
  }
}

interface Rate {
  readonly events: number;
  readonly seconds: number;
  readonly perSecond: number;
}

function rate(events: number, firstAt: number, lastAt: number): Rate {
  const seconds = (lastAt - firstAt) / 1000;
  return { events, seconds, perSecond: events / seconds };
}

const format = (r: Rate) =>
  `${Math.round(r.perSecond).toLocaleString('en')} events/s (${r.events.toLocaleString('en')} in ${r.seconds.toFixed(2)} s)`;

/** A bare kafkajs consumer in its own group: messages counted, nothing else. */
async function bareConsumerRate(brokers: string[]): Promise<Rate> {
  const kafka = new Kafka({ clientId: 'bench-bare', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-bare-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  let read = 0;
  let firstAt = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        if (read === 0) firstAt = performance.now();
        read += batch.messages.length;
        if (read >= EVENT_COUNT) resolve(performance.now());
      },
    });
  });
  const lastAt = await withTimeout(done, 'the bare consumer');
  await consumer.disconnect();
  return rate(read, firstAt, lastAt);
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in time`)), TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`Audit log benchmark: ${EVENT_COUNT.toLocaleString('en')} events\n`);
  await using postgres = await startPostgres();
  await using kafka = await startKafka();
  const brokers = [...kafka.brokers];

  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ ...topicSpec(TOPIC), configEntries: [] }] });
  await admin.disconnect();
  const producer = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  let batch: { key: string; value: Buffer }[] = [];
  for (const event of events(EVENT_COUNT)) {
    batch.push({ key: event.key, value: encodeEnvelope(event.envelope) });
    if (batch.length === PRODUCE_BATCH) {
      await producer.send({ topic: TOPIC, messages: batch });
      batch = [];
    }
  }
  if (batch.length > 0) await producer.send({ topic: TOPIC, messages: batch });
  await producer.disconnect();
  process.stdout.write(`  topic ${TOPIC} filled (6 partitions)\n`);

  const ceiling = await bareConsumerRate(brokers);
  process.stdout.write(`  bare kafkajs consumer (ceiling): ${format(ceiling)}\n`);

  const databaseUrl = await postgres.createDatabase();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  try {
    await using audit = await spawnService({
      entry: 'services/audit/dist/main.js',
      env: {
        DATABASE_URL: databaseUrl,
        KAFKA_BROKERS: brokers.join(','),
        CLIENT_CREDENTIALS: testClient().credential,
        // Contacted only when a token arrives, which this benchmark sends none of.
        OTP_GRPC_ADDRESS: '127.0.0.1:1',
        SERVICE_CLIENT_ID: 'svc-audit',
        SERVICE_CLIENT_SECRET: testClient().secret,
        LOG_LEVEL: 'warn',
        AUDIT_LOG_SIGNER_KEY: generateSignerKey('bench.audit.vaxguard').signerKey,
        // Appends are measured, not cosigning: the log publishes its own checkpoints.
        AUDIT_STATE_DIR: mkdtempSync(join(tmpdir(), 'vaxguard-bench-audit-')),
        AUDIT_WITNESSES: 'none',
        // The benchmark's staff read hundreds of records each: no alert (nor its log
        // entry) may join the events it counts.
        AUDIT_ANOMALY_STAFF_READS_PER_HOUR: '100000',
        AUDIT_ANOMALY_STAFF_READS_PER_DAY: '1000000',
        AUDIT_ANOMALY_OFF_HOURS_READS_PER_HOUR: '100000',
        // Identity is not running; no response is ever asked for.
        IDENTITY_GRPC_ADDRESS: '127.0.0.1:1',
        // To profile the audit process (as BENCH_IDENTITY_NODE_OPTIONS for identity).
        ...(AUDIT_NODE_OPTIONS ? { NODE_OPTIONS: AUDIT_NODE_OPTIONS } : {}),
      },
    });
    const size = async () =>
      Number(
        (await db.query<{ tree_size: string }>('SELECT tree_size FROM audit_log_head')).rows[0]
          ?.tree_size ?? 0,
      );
    const deadline = Date.now() + TIMEOUT_MS;
    let firstAt = 0;
    let lastAt = 0;
    while (lastAt === 0) {
      const current = await size();
      const now = performance.now();
      if (current > 0 && firstAt === 0) firstAt = now;
      if (current >= EVENT_COUNT) lastAt = now;
      else if (Date.now() > deadline || audit.child.exitCode !== null) {
        throw new Error(`the audit service appended ${current} of ${EVENT_COUNT} events`);
      } else await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    // Read after the run: one entry per event, and the checkpoints signed along the way.
    const { rows } = await db.query<{ checkpoints: string; largest: string; entries: string }>(
      `SELECT (SELECT count(*) FROM audit_checkpoints) AS checkpoints,
              (SELECT max(tree_size) FROM audit_checkpoints) AS largest,
              (SELECT count(DISTINCT event_id) FROM audit_log_entries) AS entries`,
    );
    if (Number(rows[0]?.entries) !== EVENT_COUNT) {
      throw new Error(`${rows[0]?.entries} distinct events in the log, expected ${EVENT_COUNT}`);
    }
    const appended = rate(EVENT_COUNT, firstAt, lastAt);
    process.stdout.write(
      `  audit log append, checkpoints every 1,000 entries or 1 s: ${format(appended)}, ` +
        `${rows[0]?.checkpoints} checkpoints signed (largest ${rows[0]?.largest})\n` +
        `  append rate / ceiling: ${(appended.perSecond / ceiling.perSecond).toFixed(2)}\n`,
    );
  } finally {
    await db.end();
  }
}

runBenchmark(main);
