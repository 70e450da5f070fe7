import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { connectSession, type Queryable } from '@vaxguard/db';
import { encodeEnvelope, type OutgoingEvent } from '@vaxguard/event-catalogue';
import type { Logger } from '@vaxguard/logging';
import { currentTraceparent, startPublishSpan, TRACEPARENT_HEADER } from '@vaxguard/tracing';
import { OUTBOX_CLEANUP_BATCH_SIZE, OUTBOX_SENT_RETENTION_MS } from './retention-rules';

/**
 * Writes an event (built through the event catalogue) into the outbox inside the
 * caller's transaction, so that the event exists if and only if the change it
 * describes was committed. Keyed by the subject, so the events of one subject stay in
 * order on one partition. The row keeps the trace of the span it was written in
 * (`traceparent`), which the relay sends on in the Kafka message's headers.
 */
export async function enqueueEvent(
  tx: Queryable,
  event: OutgoingEvent,
  traceparent: string | undefined = currentTraceparent(),
): Promise<void> {
  // A named statement: each connection parses and plans it once, not on every event.
  await tx.query({ name: 'vaxguard-outbox-insert', ...outboxInsert(event, traceparent) });
}

/**
 * The statement enqueueEvent runs, for a caller that sends it with other writes
 * (`combineWrites` from @vaxguard/db) inside its transaction.
 */
export function outboxInsert(
  event: OutgoingEvent,
  traceparent: string | undefined = currentTraceparent(),
): { text: string; values: unknown[] } {
  const { envelope } = event;
  return {
    text: `INSERT INTO outbox (event_id, event_type, topic, message_key, envelope, created_at, urgent,
                        traceparent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    values: [
      envelope.eventId,
      envelope.type,
      event.topic,
      event.key,
      encodeEnvelope(envelope),
      envelope.occurredAt ?? new Date(),
      event.urgent,
      traceparent ?? null,
    ],
  };
}

/**
 * How a batch shared by several calls runs for none of them (grpc-kit's outsideAnyCall
 * and currentCallBudget): a service that serves calls passes it, so that one caller's
 * deadline or departure never fails its neighbours' rows, and each caller stops waiting
 * when it goes.
 */
export interface SharedWork {
  /** Runs `work`, and all it starts, on behalf of no call. */
  outsideAnyCall<T>(work: () => T): T;
  /** The signal of the call the current work serves, if it serves one. */
  currentSignal(): AbortSignal | undefined;
}

/**
 * Writes events that belong to no transaction (a read's access event, say) with as few
 * statements as the load allows: a call made while no insert is running is inserted at
 * once; calls made while one runs wait for it and then go in together, as one
 * statement. Each caller's promise settles when its own row is committed, so an answer
 * that waits for it still leaves only after its event is durable; under load, many
 * callers share one round trip instead of each paying one.
 *
 * The insert serves every caller in it, so with `shared` it runs on behalf of none (a
 * batch started by one call would otherwise carry that call's deadline and
 * cancellation, and its rows would fail with that caller's reason, also after that call
 * was answered); a caller that goes (its signal aborts) is answered with its reason at
 * once, its row written or not with the batch.
 */
export class OutboxBatcher {
  private waiting: {
    event: OutgoingEvent;
    /** The caller's trace, taken when it enqueued: the batch runs in no caller's span. */
    traceparent: string | undefined;
    settle: (error?: Error) => void;
  }[] = [];
  private running = false;

  constructor(
    private readonly db: Queryable,
    /** The most rows one statement carries; more wait for the next. */
    private readonly maxBatch = 256,
    private readonly shared?: SharedWork,
  ) {}

  enqueue(event: OutgoingEvent): Promise<void> {
    const signal = this.shared?.currentSignal();
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(goneReason(signal));
        return;
      }
      const gone = () => reject(goneReason(signal));
      signal?.addEventListener('abort', gone, { once: true });
      this.waiting.push({
        event,
        traceparent: currentTraceparent(),
        settle: (error) => {
          signal?.removeEventListener('abort', gone);
          if (error === undefined) resolve();
          else reject(error);
        },
      });
      if (!this.running) {
        this.running = true;
        const drain = () => this.drain();
        void (this.shared ? this.shared.outsideAnyCall(drain) : drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      try {
        await insertEvents(
          this.db,
          batch.map((item) => item.event),
          batch.map((item) => item.traceparent),
        );
        for (const item of batch) item.settle();
      } catch (error) {
        // The statement is all or nothing: every row of it failed together.
        const failure = error instanceof Error ? error : new Error('outbox insert failed');
        for (const item of batch) item.settle(failure);
      }
    }
    this.running = false;
  }
}

/** Why a caller went (its signal's reason), as an Error. */
function goneReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('the caller has gone');
}

/**
 * Inserts `events` into the outbox in one statement (one row each, in order), each with
 * its trace (`traceparents`, by position; the current span's by default).
 */
export async function insertEvents(
  db: Queryable,
  events: readonly OutgoingEvent[],
  traceparents: readonly (string | undefined)[] = events.map(() => currentTraceparent()),
): Promise<void> {
  if (events.length === 0) return;
  if (events.length === 1) return enqueueEvent(db, events[0] as OutgoingEvent, traceparents[0]);
  // The rows enqueueEvent would insert one at a time, turned into one array per column.
  const rows = events.map((event, index) => outboxInsert(event, traceparents[index]).values);
  const columns = (rows[0] as unknown[]).map((_, column) => rows.map((row) => row[column]));
  // One statement whatever the count, so it is parsed and planned once per connection;
  // WITH ORDINALITY keeps the rows' ids in the callers' order.
  await db.query({
    name: 'vaxguard-outbox-insert-many',
    text: `INSERT INTO outbox (event_id, event_type, topic, message_key, envelope, created_at, urgent,
                        traceparent)
     SELECT event_id, event_type, topic, message_key, envelope, created_at, urgent, traceparent
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[],
                 $6::timestamptz[], $7::boolean[], $8::text[])
       WITH ORDINALITY AS e(event_id, event_type, topic, message_key, envelope, created_at,
                            urgent, traceparent, n)
     ORDER BY n`,
    values: columns,
  });
}

export interface OutboxRelayOptions {
  /** Connection for the relay's own session: leadership lock and LISTEN. */
  readonly connectionString: string;
  readonly pool: pg.Pool;
  readonly producer: Producer;
  readonly logger: Logger;
  readonly batchSize?: number;
  /**
   * How often to look for rows when no notification arrives: the delay of events that
   * are not urgent (default 200 ms).
   */
  readonly pollIntervalMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long sent rows are kept before being deleted (default OUTBOX_SENT_RETENTION_MS). */
  readonly retentionMs?: number;
  /**
   * Sent rows deleted per statement (default 1,000). A pass deletes one batch; while
   * batches come back full, the next pass follows the next batch published, not a minute
   * later, so a large backlog drains without one long statement stalling the relay.
   */
  readonly cleanupBatchSize?: number;
}

// Only one relay per database publishes at a time, so rows go out in id order.
const RELAY_LOCK = 0x6f75_7462; // "outb"

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  event_id: string;
  event_type: string;
  envelope: Buffer;
  traceparent: string | null;
}

/**
 * Publishes outbox rows to Kafka in id order, marking them sent. A failure keeps the
 * rows and retries with exponential backoff; a row may then be published twice, which
 * idempotent consumers absorb. Several instances may run: one holds the lock and
 * relays, the others stand by.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly retentionMs: number;
  private session: pg.Client | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** A commit was announced while the relay was busy: the next sleep ends at once. */
  private notified = false;
  private lastCleanup = 0;
  private readonly cleanupBatchSize: number;
  /** The last cleanup filled its batch: there are more expired rows to delete. */
  private moreToClean = false;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.initialBackoffMs = options.initialBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.retentionMs = options.retentionMs ?? OUTBOX_SENT_RETENTION_MS;
    this.cleanupBatchSize = options.cleanupBatchSize ?? OUTBOX_CLEANUP_BATCH_SIZE;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops relaying after publishing what is pending, within `timeoutMs`. */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.nudge();
    await this.loop;
    if (this.session) {
      const deadline = Date.now() + timeoutMs;
      try {
        while (Date.now() < deadline && (await this.publishBatch()) > 0) {
          // keep flushing until nothing is pending or time is up
        }
      } catch (error) {
        this.options.logger.warn('outbox flush at shutdown failed; rows stay for the next start', {
          err: error,
        });
      }
    }
    await this.closeSession();
  }

  /** Publishes one batch of pending rows; returns how many were sent. */
  async publishBatch(): Promise<number> {
    const { rows } = await this.options.pool.query<OutboxRow>(
      `SELECT id, topic, message_key, event_id, event_type, envelope, traceparent
         FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1`,
      [this.batchSize],
    );
    if (rows.length === 0) return 0;
    const byTopic = new Map<
      string,
      { key: string; value: Buffer; headers: Record<string, string> }[]
    >();
    // A row written inside a trace is published inside it: a producer span, child of the
    // writer's, which the message's header carries on to its consumers.
    const spans = rows.map((row) =>
      startPublishSpan(row.traceparent ?? undefined, {
        topic: row.topic,
        eventType: row.event_type,
        eventId: row.event_id,
      }),
    );
    rows.forEach((row, index) => {
      const messages = byTopic.get(row.topic) ?? [];
      const traceparent = spans[index]?.traceparent;
      messages.push({
        key: row.message_key,
        value: row.envelope,
        headers: {
          'event-id': row.event_id,
          'event-type': row.event_type,
          ...(traceparent === undefined ? {} : { [TRACEPARENT_HEADER]: traceparent }),
        },
      });
      byTopic.set(row.topic, messages);
    });
    const ids = rows.map((row) => row.id);
    try {
      await this.options.producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      for (const span of spans) span.end();
    } catch (error) {
      for (const span of spans) span.end(error);
      await this.options.pool.query(
        'UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)',
        [ids],
      );
      throw error;
    }
    await this.options.pool.query('UPDATE outbox SET sent_at = now() WHERE id = ANY($1)', [ids]);
    return rows.length;
  }

  private async run(): Promise<void> {
    let backoff = this.initialBackoffMs;
    while (this.running) {
      try {
        if (!(await this.ensureLeadership())) {
          await this.sleep(this.pollIntervalMs);
          continue;
        }
        const sent = await this.publishBatch();
        backoff = this.initialBackoffMs;
        await this.cleanup();
        if (sent < this.batchSize) await this.sleep(this.pollIntervalMs);
      } catch (error) {
        this.options.logger.warn('outbox relay failed; retrying', {
          err: error,
          backoffMs: backoff,
        });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  private async ensureLeadership(): Promise<boolean> {
    if (this.session) return true;
    // Where the URL names a primary and its standby, on the one that takes writes.
    const session = await connectSession({
      connectionString: this.options.connectionString,
      application_name: 'outbox-relay',
    });
    session.on('error', (error) => {
      this.options.logger.warn('outbox relay session lost', { err: error });
      if (this.session === session) this.session = undefined;
    });
    session.on('notification', () => this.nudge());
    try {
      const { rows } = await session.query<{ leader: boolean }>(
        'SELECT pg_try_advisory_lock($1) AS leader',
        [RELAY_LOCK],
      );
      if (!rows[0]?.leader) {
        await session.end();
        return false;
      }
      await session.query('LISTEN outbox');
    } catch (error) {
      await session.end().catch(() => undefined);
      throw error;
    }
    this.session = session;
    this.options.logger.info('outbox relay is leader');
    return true;
  }

  /** Deletes one batch of sent rows past the retention; returns how many. */
  async cleanup(): Promise<number> {
    if (!this.moreToClean && Date.now() - this.lastCleanup < 60_000) return 0;
    this.lastCleanup = Date.now();
    // Oldest first, through the partial index on sent_at.
    const { rowCount } = await this.options.pool.query(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox
          WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)
          ORDER BY sent_at LIMIT $2)`,
      [this.retentionMs / 1000, this.cleanupBatchSize],
    );
    const removed = rowCount ?? 0;
    this.moreToClean = removed === this.cleanupBatchSize;
    return removed;
  }

  /** Ends the current sleep, or the next one if the relay is publishing right now. */
  private nudge(): void {
    this.notified = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        this.notified = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.end().catch(() => undefined);
  }
}
