import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { createPool, migrate, withTransaction, type Pool, type PoolClient } from '@vaxguard/db';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  readPayload,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import {
  EventCollector,
  eventually,
  startKafka,
  startPostgres,
  type KafkaFixture,
  type PostgresFixture,
} from '@vaxguard/testing';
import { BroadcastListener } from './broadcast';
import { IdempotentConsumer } from './consumer';
import { createKafka, ensureTopics } from './kafka';
import { eventsMigrations } from './migrations';
import { enqueueEvent, OutboxBatcher, OutboxRelay } from './outbox';

const TOPIC = 'vaxguard.outbox-test.events';
const logs = new MemoryLogSink();
const logger = createLogger({ service: 'outbox-test', sink: logs, level: 'debug' });

/** A catalogue event, sent to this test's own topic. */
function lockedEvent(subject: string, failures: number) {
  const built = buildEvent(EVENTS.otpLocked, {
    actor: { kind: ActorKind.ACTOR_KIND_SERVICE, principalId: 'outbox-test', clientId: '' },
    subject: { kind: SubjectKind.SUBJECT_KIND_MOBILE, ref: subject },
    payload: { consecutiveFailures: failures, lockedUntil: new Date('2026-11-22T12:00:00Z') },
    occurredAt: new Date(),
  });
  return { ...built, topic: TOPIC };
}

/** Sends these events straight to a topic (as the relay would), one partition key. */
async function publish(
  producer: Producer,
  topic: string,
  events: readonly ReturnType<typeof lockedEvent>[],
): Promise<void> {
  await producer.send({
    topic,
    messages: events.map(({ envelope }) => ({ key: 'k', value: encodeEnvelope(envelope) })),
  });
}

/** Fails the transaction `tx` with the SQLSTATE PostgreSQL gives a serialization failure. */
async function failSerialization(tx: PoolClient): Promise<void> {
  await tx.query(
    "DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = 'serialization_failure'; END $$",
  );
}

/** kafkajs' report of an error thrown out of a batch on `topic` (before it reads it again). */
function surfacedFailures(topic: string): number {
  return logs
    .records()
    .filter((line) => line.msg === 'kafka: Error when calling eachBatch' && line.topic === topic)
    .length;
}

/** A change and its event, written in one transaction (optionally failing after both). */
async function recordChange(pool: Pool, subject: string, n: number, fail = false): Promise<string> {
  return withTransaction(pool, async (tx) => {
    const event = lockedEvent(subject, n);
    await tx.query('INSERT INTO changes (subject, n) VALUES ($1, $2)', [subject, n]);
    await enqueueEvent(tx, event);
    if (fail) throw new Error('business rule refused the change');
    return event.envelope.eventId;
  });
}

describe('transactional outbox with real PostgreSQL and Kafka', () => {
  let postgres: PostgresFixture;
  let kafkaFixture: KafkaFixture;
  let kafka: Kafka;
  let pool: Pool;
  let producer: Producer;
  let relay: OutboxRelay;
  let collector: EventCollector;

  beforeAll(async () => {
    [postgres, kafkaFixture] = await Promise.all([startPostgres(), startKafka()]);
    pool = createPool({ connectionString: postgres.url, applicationName: 'outbox-test', logger });
    await migrate(
      pool,
      [
        ...eventsMigrations,
        { id: 'test/0001_changes', sql: 'CREATE TABLE changes (subject text, n int)' },
        {
          id: 'test/0002_applied',
          sql: 'CREATE TABLE applied (event_id uuid, subject text, n int)',
        },
      ],
      logger,
    );
    kafka = createKafka({ clientId: 'outbox-test', brokers: kafkaFixture.brokers, logger });
    await ensureTopics(kafka, [{ topic: TOPIC, numPartitions: 3 }]);
    producer = kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    relay = new OutboxRelay({
      connectionString: postgres.url,
      pool,
      producer,
      logger,
      pollIntervalMs: 200,
      initialBackoffMs: 100,
      maxBackoffMs: 1_000,
    });
    relay.start();
    collector = await EventCollector.start(kafkaFixture.brokers, [TOPIC]);
  });

  afterAll(async () => {
    await collector?.stop().catch(() => undefined);
    await relay?.stop().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await pool?.end();
    await kafkaFixture?.stop();
    await postgres?.stop();
  });

  it('publishes a committed change with its event, and nothing of a rolled-back one', async () => {
    await expect(recordChange(pool, 'rolled-back', 1, true)).rejects.toThrow('business rule');
    const committed = await recordChange(pool, 'committed', 2);

    const [event] = await collector.waitFor((e) => e.eventId === committed);
    expect(readPayload(event!, EVENTS.otpLocked).consecutiveFailures).toBe(2);
    expect(event!.subject?.ref).toBe('committed');

    const { rows } = await pool.query<{ subject: string }>(
      "SELECT subject FROM changes WHERE subject IN ('committed', 'rolled-back')",
    );
    expect(rows.map((r) => r.subject)).toEqual(['committed']);
    const outbox = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE event_id = $1',
      [committed],
    );
    expect(outbox.rows[0]!.n).toBe(1);
    // The relay publishes in commit order, so had the rolled-back event existed it
    // would have arrived before this one.
    expect(collector.events.filter((e) => e.subject?.ref === 'rolled-back')).toEqual([]);
  });

  it('a batcher writes concurrent events in fewer statements, each caller answered once its row is committed', async () => {
    let statements = 0;
    const counted = {
      query: ((...args: Parameters<Pool['query']>) => {
        statements += 1;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      }) as Pool['query'],
    };
    const batcher = new OutboxBatcher(counted, 16);
    const events = Array.from({ length: 40 }, (_, n) => lockedEvent('batched', n));
    // Each caller looks for its own row as soon as its promise settles: it must be there.
    const seen = await Promise.all(
      events.map(async (event) => {
        await batcher.enqueue(event);
        const { rows } = await pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE event_id = $1',
          [event.envelope.eventId],
        );
        return rows[0]!.n;
      }),
    );
    expect(seen).toEqual(events.map(() => 1));
    // The first goes alone; the 39 that arrived meanwhile go in batches of at most 16.
    expect(statements).toBe(1 + Math.ceil(39 / 16));
    // Ids follow the callers' order, so the relay publishes them in that order.
    const { rows } = await pool.query<{ event_id: string }>(
      "SELECT event_id FROM outbox WHERE event_type = 'otp.locked' AND message_key = 'batched' ORDER BY id",
    );
    expect(rows.map((row) => row.event_id)).toEqual(events.map((e) => e.envelope.eventId));
    const last = events[events.length - 1]!.envelope.eventId;
    const arrived = await collector.waitFor((e) => e.eventId === last);
    expect(arrived).toHaveLength(1);
    expect(collector.events.filter((e) => e.subject?.ref === 'batched')).toHaveLength(40);

    // A statement that fails fails its own callers only, and the batcher goes on.
    const duplicate = events[0]!;
    const fresh = lockedEvent('batched-after', 1);
    const outcomes = await Promise.allSettled([
      batcher.enqueue(lockedEvent('batched-first', 1)),
      batcher.enqueue(duplicate),
      batcher.enqueue(lockedEvent('batched-beside', 1)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    await batcher.enqueue(fresh);
    const after = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE event_id = $1',
      [fresh.envelope.eventId],
    );
    expect(after.rows[0]!.n).toBe(1);
  });

  it('keeps writing while Kafka is down, then delivers every event exactly once to an idempotent consumer', async (context) => {
    // An external broker (TEST_KAFKA_BROKERS) cannot be taken down by a test: reported as skipped.
    if (!kafkaFixture.controllable) context.skip();
    const consumer = await IdempotentConsumer.start({
      kafka,
      pool,
      groupId: 'outbox-test-applier',
      topics: [TOPIC],
      logger,
      handle: async ({ envelope }, tx) => {
        const payload = readPayload(envelope, EVENTS.otpLocked);
        await tx.query('INSERT INTO applied (event_id, subject, n) VALUES ($1, $2, $3)', [
          envelope.eventId,
          envelope.subject?.ref,
          payload.consecutiveFailures,
        ]);
      },
    });
    let paused = false;
    try {
      await kafkaFixture.pause();
      paused = true;
      const written: string[] = [];
      for (let n = 0; n < 20; n++) written.push(await recordChange(pool, `outage-${n % 4}`, n));
      // Only this test's rows: an earlier test's last events may still be on their way.
      const pending = await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND event_id = ANY($1::uuid[])',
        [written],
      );
      expect(pending.rows[0]!.n).toBe(20);

      await kafkaFixture.resume();
      paused = false;
      await eventually(
        async () => {
          const { rows } = await pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL',
          );
          expect(rows[0]!.n).toBe(0);
        },
        { timeoutMs: 90_000 },
      );

      // The relay sends everything a second time, as after a crash between the send
      // and the mark: the consumer must not apply anything twice.
      await pool.query('UPDATE outbox SET sent_at = NULL');
      await collector.waitFor((e) => written.includes(e.eventId), 40, 60_000);

      await eventually(async () => {
        const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM applied');
        expect(
          rows
            .map((r) => r.event_id)
            .filter((id) => written.includes(id))
            .sort(),
        ).toEqual([...written].sort());
      });
      const { rows } = await pool.query<{ event_id: string; copies: number }>(
        'SELECT event_id, count(*)::int AS copies FROM applied GROUP BY event_id HAVING count(*) > 1',
      );
      expect(rows).toEqual([]);
      // Per subject, events arrive in the order they were written.
      for (let s = 0; s < 4; s++) {
        const ns = collector.events
          .filter((e) => e.subject?.ref === `outage-${s}`)
          .slice(0, 5)
          .map((e) => readPayload(e, EVENTS.otpLocked).consecutiveFailures);
        expect(ns).toEqual([s, s + 4, s + 8, s + 12, s + 16]);
      }
    } finally {
      // A failure while Kafka is down must not leave it down for the tests that follow.
      if (paused) await kafkaFixture.resume();
      await consumer.stop();
    }
  });

  it('skips and counts what it cannot decode, and applies what follows on the same partition', async () => {
    const topic = 'vaxguard.outbox-test.mixed';
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const valid = lockedEvent('mixed', 7).envelope;
    const unknownType = { ...lockedEvent('mixed', 8).envelope, type: 'nobody.declared' };
    const wrongPayload = { ...lockedEvent('mixed', 9).envelope, type: EVENTS.tokenRevoked.name };
    await producer.send({
      topic,
      messages: [
        Buffer.from('not an envelope at all'),
        encodeEnvelope(unknownType),
        encodeEnvelope(wrongPayload),
        encodeEnvelope(valid),
      ].map((value) => ({ key: 'mixed', value })),
    });
    const applied: string[] = [];
    const consumer = await IdempotentConsumer.start({
      kafka,
      pool,
      groupId: 'outbox-test-mixed',
      topics: [topic],
      logger,
      handle: async ({ envelope }) => void applied.push(envelope.eventId),
    });
    try {
      await eventually(() => expect(applied).toEqual([valid.eventId]));
      expect(consumer.stats).toMatchObject({
        applied: 1,
        undecodable: { NOT_AN_ENVELOPE: 1, UNKNOWN_TYPE: 1, UNREADABLE_PAYLOAD: 1 },
      });
      const skipped = logs.lines.filter((line) => line.includes('cannot be decoded'));
      expect(skipped).toHaveLength(3);
      expect(skipped.join('\n')).not.toContain('not an envelope at all');
    } finally {
      await consumer.stop();
    }
  });

  it('a batch rolled back on a deadlock is applied again in place: each event once, nothing delivered again', async () => {
    const topic = 'vaxguard.outbox-test.deadlocked';
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    await pool.query('CREATE TABLE lock_pair (id int PRIMARY KEY, n int NOT NULL)');
    await pool.query('INSERT INTO lock_pair VALUES (1, 0), (2, 0)');
    const events = Array.from({ length: 5 }, (_, n) => lockedEvent('deadlocked', n));
    await publish(producer, topic, events);

    /**
     * Takes the pair's rows in the opposite order to another transaction: a real deadlock.
     * The other transaction commits once PostgreSQL has aborted `tx` (kept in `other`).
     */
    let other: Promise<unknown> = Promise.resolve();
    const deadlock = async (tx: PoolClient): Promise<void> => {
      const session = await pool.connect();
      let crossed = false;
      try {
        await tx.query('UPDATE lock_pair SET n = n + 1 WHERE id = 1');
        await session.query('BEGIN');
        await session.query('UPDATE lock_pair SET n = n + 1 WHERE id = 2');
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        const waiting = tx.query('UPDATE lock_pair SET n = n + 1 WHERE id = 2');
        waiting.catch(() => undefined);
        await eventually(async () => {
          const blocked = await pool.query<{ n: number }>(
            'SELECT cardinality(pg_blocking_pids($1))::int AS n',
            [rows[0]!.pid],
          );
          expect(blocked.rows[0]!.n).toBe(1);
        });
        // The consumer's transaction waited first, so its deadlock check runs first and
        // PostgreSQL aborts it; the other then takes row 1 and commits.
        other = session
          .query('UPDATE lock_pair SET n = n + 1 WHERE id = 1')
          .then(() => session.query('COMMIT'))
          .finally(() => session.release());
        crossed = true;
        await waiting;
      } finally {
        if (!crossed) session.release(true);
      }
    };

    const attempts: string[][] = [];
    const consumer = await IdempotentConsumer.startBatched({
      kafka,
      pool,
      groupId: 'outbox-test-deadlocked',
      topics: [topic],
      logger,
      handleBatch: async (batch, tx) => {
        attempts.push(batch.map(({ event }) => event.envelope.eventId));
        for (const { event } of batch) {
          await tx.query('INSERT INTO applied (event_id, subject, n) VALUES ($1, $2, $3)', [
            event.envelope.eventId,
            'deadlocked',
            readPayload(event.envelope, EVENTS.otpLocked).consecutiveFailures,
          ]);
        }
        if (attempts.length === 1) await deadlock(tx);
      },
    });
    try {
      const ids = events.map((e) => e.envelope.eventId);
      await eventually(async () => {
        const { rows } = await pool.query<{ event_id: string }>(
          "SELECT event_id FROM applied WHERE subject = 'deadlocked' ORDER BY n",
        );
        expect(rows.map((r) => r.event_id)).toEqual(ids);
      });
      // The same batch ran twice, the second time without a word from Kafka.
      expect(attempts[1]).toEqual(attempts[0]);
      expect(new Set(attempts.flat())).toEqual(new Set(ids));
      expect(consumer.stats).toMatchObject({ applied: 5, duplicates: 0, retried: 1 });
      expect(surfacedFailures(topic)).toBe(0);
      const retries = logs.records().filter((line) => line.consumer === 'outbox-test-deadlocked');
      expect(retries.map((line) => line.msg)).toContain(
        'deadlock or serialization failure: rolled back, running again',
      );
      // The other transaction's changes committed; the consumer's first attempt left none.
      await other;
      const pair = await pool.query<{ n: number }>('SELECT n FROM lock_pair ORDER BY id');
      expect(pair.rows.map((r) => r.n)).toEqual([1, 1]);
    } finally {
      await consumer.stop();
    }
  });

  it('one event at a time, a transaction rolled back on a serialization failure is run again in place', async () => {
    const topic = 'vaxguard.outbox-test.serialization';
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const event = lockedEvent('serialization', 1);
    await publish(producer, topic, [event]);
    let attempts = 0;
    const consumer = await IdempotentConsumer.start({
      kafka,
      pool,
      groupId: 'outbox-test-serialization',
      topics: [topic],
      logger,
      handle: async ({ envelope }, tx) => {
        attempts++;
        await tx.query('INSERT INTO applied (event_id, subject, n) VALUES ($1, $2, 1)', [
          envelope.eventId,
          'serialization',
        ]);
        if (attempts === 1) await failSerialization(tx);
      },
    });
    try {
      await eventually(() => expect(consumer.stats.applied).toBe(1));
      const { rows } = await pool.query<{ event_id: string }>(
        "SELECT event_id FROM applied WHERE subject = 'serialization'",
      );
      expect(rows.map((r) => r.event_id)).toEqual([event.envelope.eventId]);
      expect(attempts).toBe(2);
      expect(consumer.stats.retried).toBe(1);
    } finally {
      await consumer.stop();
    }
  });

  it('a batch that keeps failing goes back to Kafka after its bounded retries, and is applied once when read again', async () => {
    const topic = 'vaxguard.outbox-test.persistent';
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const events = [lockedEvent('persistent', 1), lockedEvent('persistent', 2)];
    await publish(producer, topic, events);
    // Per attempt, how many times the failure had already left the consumer for Kafka.
    const surfacedBefore: number[] = [];
    const consumer = await IdempotentConsumer.startBatched({
      kafka,
      pool,
      groupId: 'outbox-test-persistent',
      topics: [topic],
      logger,
      transactionRetries: 1,
      handleBatch: async (batch, tx) => {
        surfacedBefore.push(surfacedFailures(topic));
        for (const { event } of batch) {
          await tx.query('INSERT INTO applied (event_id, subject, n) VALUES ($1, $2, 0)', [
            event.envelope.eventId,
            'persistent',
          ]);
        }
        // Two attempts in place fail, then the first attempt after Kafka's redelivery.
        if (surfacedBefore.length <= 3) await failSerialization(tx);
      },
    });
    try {
      await eventually(() => expect(consumer.stats.applied).toBe(2));
      expect(surfacedBefore).toEqual([0, 0, 1, 1]);
      expect(consumer.stats).toMatchObject({ duplicates: 0, retried: 2 });
      const { rows } = await pool.query<{ event_id: string }>(
        "SELECT event_id FROM applied WHERE subject = 'persistent' ORDER BY event_id",
      );
      expect(rows.map((r) => r.event_id)).toEqual(events.map((e) => e.envelope.eventId).sort());
    } finally {
      await consumer.stop();
    }
  });

  it('deletes sent rows past the retention a batch at a time, the next batch at once while batches come back full, and never an unsent row', async () => {
    const topic = 'vaxguard.outbox-test.cleanup';
    const add = (count: number, sentAgo: string | null) =>
      pool.query(
        `INSERT INTO outbox (event_id, event_type, topic, message_key, envelope, created_at, sent_at)
         SELECT gen_random_uuid(), 'test', $1, 'k', '\\x00'::bytea, now() - interval '3 days',
                now() - $3::interval
           FROM generate_series(1, $2)`,
        [topic, count, sentAgo],
      );
    // Within the day the file's running relay keeps, so only this cleaner deletes them.
    await add(2_500, '2 hours');
    await add(3, '10 minutes');
    await add(1, null);
    const cleaner = new OutboxRelay({
      connectionString: postgres.url,
      pool,
      producer,
      logger,
      retentionMs: 3_600_000,
      cleanupBatchSize: 1_000,
    });
    const passes = [];
    for (let pass = 0; pass < 4; pass++) passes.push(await cleaner.cleanup());
    // The fourth pass waits for its minute: the third found the backlog gone.
    expect(passes).toEqual([1_000, 1_000, 500, 0]);
    const { rows } = await pool.query<{ sent: boolean; n: number }>(
      `SELECT sent_at IS NOT NULL AS sent, count(*)::int AS n FROM outbox
        WHERE topic = $1 GROUP BY 1 ORDER BY 1`,
      [topic],
    );
    expect(rows).toEqual([
      { sent: false, n: 1 },
      { sent: true, n: 3 },
    ]);
    await pool.query('DELETE FROM outbox WHERE topic = $1', [topic]);
  });

  it("prunes a consumer's event ids past its retention, in batches, and still skips a recent redelivery", async () => {
    const topic = 'vaxguard.outbox-test.pruned';
    const groupId = 'outbox-test-pruned';
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const record = (consumer: string, count: number, age: string) =>
      pool.query(
        `INSERT INTO processed_events (consumer, event_id, processed_at)
         SELECT $1, gen_random_uuid(), now() - $3::interval FROM generate_series(1, $2)`,
        [consumer, count, age],
      );
    await record(groupId, 2_500, '30 days');
    await record(groupId, 3, '50 minutes');
    await record('outbox-test-other', 1, '30 days');
    const count = async (consumer: string, olderThan: string) => {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM processed_events
          WHERE consumer = $1 AND processed_at < now() - $2::interval`,
        [consumer, olderThan],
      );
      return rows[0]!.n;
    };

    const applied: string[] = [];
    const consumer = await IdempotentConsumer.start({
      kafka,
      pool,
      groupId,
      topics: [topic],
      logger,
      processedRetentionMs: 3_600_000,
      pruneIntervalMs: 100,
      pruneBatchSize: 1_000,
      handle: async ({ envelope }) => void applied.push(envelope.eventId),
    });
    try {
      const recent = lockedEvent('pruned', 1);
      await publish(producer, topic, [recent]);
      await eventually(() => expect(applied).toEqual([recent.envelope.eventId]));
      await eventually(async () => expect(await count(groupId, '1 hour')).toBe(0));
      expect(await count(groupId, '40 minutes')).toBe(3);
      expect(await count('outbox-test-other', '1 hour')).toBe(1);
      const pruned = logs
        .records()
        .filter((line) => line.consumer === groupId && line.msg === 'processed events pruned');
      expect(pruned.reduce((sum, line) => sum + Number(line.removed), 0)).toBe(2_500);

      // Sent again after several passes, the recent event is still recognised.
      const later = lockedEvent('pruned', 2);
      await publish(producer, topic, [recent, later]);
      await eventually(() =>
        expect(applied).toEqual([recent.envelope.eventId, later.envelope.eventId]),
      );
      expect(consumer.stats).toMatchObject({ applied: 2, duplicates: 1 });
    } finally {
      await consumer.stop();
    }
  });

  it('a broadcast listener hears events from a point in time on, and leaves no consumer group', async () => {
    const { topic } = EVENTS.tokenRevoked;
    await ensureTopics(kafka, [{ topic, numPartitions: 6 }]);
    const revoked = (tokenId: string) =>
      encodeEnvelope(
        buildEvent(EVENTS.tokenRevoked, {
          actor: { kind: ActorKind.ACTOR_KIND_SERVICE, principalId: 'outbox-test', clientId: '' },
          subject: { kind: SubjectKind.SUBJECT_KIND_TOKEN, ref: tokenId },
          payload: { tokenId, expiresAt: new Date(Date.now() + 60_000) },
          occurredAt: new Date(),
        }).envelope,
      );
    const now = Date.now();
    await producer.send({
      topic,
      messages: [
        { key: 'old', value: revoked('old'), timestamp: String(now - 3_600_000) },
        { key: 'recent', value: revoked('recent'), timestamp: String(now - 60_000) },
      ],
    });
    const heard: string[] = [];
    const listener = await BroadcastListener.start({
      kafka,
      name: 'outbox-test.broadcast',
      events: [EVENTS.tokenRevoked],
      since: new Date(now - 15 * 60_000),
      logger,
      onEvent: (event) => void heard.push(event.envelope.subject?.ref ?? ''),
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Caught up before start() returned: the recent revocation, not the old one.
      expect(heard).toEqual(['recent']);
      await producer.send({ topic, messages: [{ key: 'later', value: revoked('later') }] });
      await eventually(() => expect(heard).toEqual(['recent', 'later']));
      const groups = async () =>
        (await admin.listGroups()).groups
          .map((group) => group.groupId)
          .filter((id) => id.startsWith('outbox-test.broadcast.'));
      expect(await groups()).toHaveLength(1);
      await listener.stop();
      expect(await groups()).toEqual([]);
    } finally {
      await listener.stop();
      await admin.disconnect();
    }
  });
});
