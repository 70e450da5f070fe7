import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@vaxguard/db';
import {
  ActorKind,
  ALL_EVENT_TOPICS,
  buildEvent,
  encodeEnvelope,
  EventIdGenerator,
  EVENTS,
  SubjectKind,
  topicSpec,
  type OutgoingEvent,
} from '@vaxguard/event-catalogue';
import { ensureTopics, type IdempotentConsumer } from '@vaxguard/events';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  eventually,
  startKafka,
  startPostgres,
  type KafkaFixture,
  type PostgresFixture,
} from '@vaxguard/testing';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@vaxguard/tlog';
import { startLogIngestion } from './adapters/log-ingestion';
import { MemoryKeptState, RecordingAlarm } from './domain/fakes';
import { LogKeeper } from './domain/log-keeper';
import { MAX_EVENT_AGE_MS } from './domain/log-rules';
import { LogWriter } from './domain/log-writer';
import { auditMigrations } from './migrations';

const DAY_MS = 24 * 3_600_000;
/** Every event of a test on one Kafka key: one partition, so they are read in order. */
const SUBJECT = 'bnf_dedup_test_subject_000001';

/**
 * One entry per event without a unique index on event_id (issue 23): the log's consumer
 * (real Kafka, real PostgreSQL) recognises a redelivery by processed_events, across a
 * restart of the consumer, and refuses an event made before its dedup window.
 */
describe("the audit log's consumer refuses duplicates by its own deduplication", () => {
  let postgres: PostgresFixture;
  let kafkaFixture: KafkaFixture;
  let pool: pg.Pool;
  let kafka: Kafka;
  let producer: Producer;
  let writer: LogWriter;
  const sink = new MemoryLogSink();
  const logger = createLogger({ service: 'audit-test', sink });
  const consumers: IdempotentConsumer[] = [];

  beforeAll(async () => {
    [postgres, kafkaFixture] = await Promise.all([startPostgres(), startKafka()]);
    pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
    await migrate(pool, auditMigrations, logger);
    kafka = new Kafka({
      clientId: 'audit-dedup-test',
      brokers: [...kafkaFixture.brokers],
      logLevel: logLevel.NOTHING,
    });
    await ensureTopics(kafka, ALL_EVENT_TOPICS.map(topicSpec));
    producer = kafka.producer();
    await producer.connect();
    const { signerKey, verifierKey } = generateSignerKey('audit.dedup-test.vaxguard');
    const signer = parseSignerKey(signerKey);
    const clock = () => new Date();
    const keeper = await LogKeeper.open({
      store: new MemoryKeptState(),
      alarm: new RecordingAlarm(),
      origin: signer.name,
      verifier: parseVerifierKey(verifierKey),
      actor: 'svc-audit',
      clock,
      publishes: 'SIGNED',
    });
    writer = new LogWriter({
      origin: signer.name,
      signer,
      policy: { everyEntries: 1_000, intervalMs: 1_000 },
      clock,
      guard: keeper,
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    await producer?.disconnect();
    await pool?.end();
    await Promise.all([postgres?.stop(), kafkaFixture?.stop()]);
  });

  async function startConsumer(): Promise<IdempotentConsumer> {
    const consumer = await startLogIngestion({
      kafka,
      pool,
      writer,
      clock: () => new Date(),
      logger,
    });
    consumers.push(consumer);
    return consumer;
  }

  /** An access.granted event whose id was made `ageMs` ago (its UUIDv7 time). */
  function anEvent(ageMs = 0): OutgoingEvent {
    const event = buildEvent(EVENTS.accessGranted, {
      actor: { kind: ActorKind.ACTOR_KIND_STAFF, principalId: 'stf_dedup', clientId: 'console' },
      subject: { kind: SubjectKind.SUBJECT_KIND_BENEFICIARY, ref: SUBJECT },
      payload: {
        method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
        basis: 'CONSENT',
        grantId: 'grant-dedup',
      },
      occurredAt: new Date(Date.now() - ageMs),
    });
    if (ageMs === 0) return event;
    const eventId = new EventIdGenerator(() => Date.now() - ageMs).next();
    return { ...event, envelope: { ...event.envelope, eventId } };
  }

  async function deliver(...events: OutgoingEvent[]): Promise<void> {
    for (const event of events) {
      await producer.send({
        topic: event.topic,
        messages: [{ key: event.key, value: encodeEnvelope(event.envelope) }],
      });
    }
  }

  const entriesOf = async (event: OutgoingEvent): Promise<number> => {
    const { rows } = await pool.query<{ count: string }>(
      'SELECT count(*) FROM audit_log_entries WHERE event_id = $1',
      [event.envelope.eventId],
    );
    return Number(rows[0]?.count);
  };

  /** Resolves once `marker`, delivered after everything before it on the key, is in the log. */
  const untilLogged = (marker: OutgoingEvent) =>
    eventually(
      async () => {
        if ((await entriesOf(marker)) !== 1) throw new Error('the marker is not in the log yet');
      },
      { timeoutMs: 60_000 },
    );

  it('appends an event delivered twice, and again after a restart, once; refuses one made before the window', async () => {
    let consumer = await startConsumer();
    const event = anEvent();
    const withinWindow = anEvent(MAX_EVENT_AGE_MS - DAY_MS);
    const tooOld = anEvent(MAX_EVENT_AGE_MS + DAY_MS);
    const marker = anEvent();
    await deliver(event, event, withinWindow, tooOld, tooOld, marker);
    await untilLogged(marker);
    expect(await entriesOf(event)).toBe(1);
    expect(await entriesOf(withinWindow)).toBe(1);
    expect(await entriesOf(tooOld)).toBe(0);
    const refusals = sink.records().filter((line) => line['eventId'] === tooOld.envelope.eventId);
    expect(refusals.map((line) => line['msg'])).toEqual([
      'event older than the dedup window refused, not appended',
    ]);
    expect(consumer.stats.duplicates).toBeGreaterThanOrEqual(2);

    // A new consumer of the same group (a restart) is handed the same event again.
    await consumer.stop();
    consumers.splice(consumers.indexOf(consumer), 1);
    consumer = await startConsumer();
    const marker2 = anEvent();
    await deliver(event, withinWindow, marker2);
    await untilLogged(marker2);
    expect(await entriesOf(event)).toBe(1);
    expect(await entriesOf(withinWindow)).toBe(1);
    expect(consumer.stats.duplicates).toBe(2);
  }, 120_000);
});
