import { ALL_EVENT_TOPICS, topicSpec } from '@vaxguard/event-catalogue';
import { ensureTopics, type IdempotentConsumer } from '@vaxguard/events';
import type { LogSink } from '@vaxguard/logging';
import { auditV1 } from '@vaxguard/proto';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { parseVerifierKey } from '@vaxguard/tlog';
import { AUDIT_METHOD_POLICIES, AUDIT_SERVICE_NAME, auditHandlers } from './adapters/grpc-handlers';
import { startLogIngestion } from './adapters/log-ingestion';
import { PgLogStore } from './adapters/pg-log-store';
import type { Config } from './config';
import { LogReader } from './domain/log-reader';
import { LogWriter } from './domain/log-writer';
import { auditMigrations } from './migrations';

export interface AuditApp {
  readonly runtime: ServiceRuntime;
  readonly reader: LogReader;
  /** The log's consumer: its counts of applied, duplicate and undecodable events. */
  readonly ingestion: IdempotentConsumer;
}

/** What tests may replace: the clock and where log lines go. */
export interface AuditAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

/**
 * The audit service's composition root: the shared runtime (given only its part of the
 * configuration), the transparency log in PostgreSQL, the consumer that appends every
 * event of every topic to it, the checkpoint timer, and the gRPC handlers that serve
 * checkpoints, proofs, entries and verification. The consumer starts with the server.
 */
export async function createAuditApp(
  config: Config,
  overrides: AuditAppOverrides = {},
): Promise<AuditApp> {
  const clock = overrides.clock ?? (() => new Date());
  const runtime = await ServiceRuntime.create({
    service: 'audit',
    config: runtimeConfigOf(config),
    peer: peerConfigOf(config),
    migrations: auditMigrations,
    methods: AUDIT_METHOD_POLICIES,
    clock,
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  try {
    const store = new PgLogStore(runtime.pool);
    const writer = new LogWriter({
      origin: config.logOrigin,
      signer: config.logSigner,
      policy: {
        everyEntries: config.checkpointEveryEntries,
        intervalMs: config.checkpointIntervalMs,
      },
      clock,
    });
    const reader = new LogReader({
      store,
      origin: config.logOrigin,
      verifierKey: config.logSigner.verifierKey,
      verifier: parseVerifierKey(config.logSigner.verifierKey),
    });
    // The first checkpoint (of the empty tree, on a new log) is there before any call.
    await store.inTransaction((tx) => writer.checkpoint(tx));
    await ensureTopics(runtime.kafka, ALL_EVENT_TOPICS.map(topicSpec));

    const logger = runtime.logger.child({ component: 'audit-log' });
    const consumer = await startLogIngestion({
      kafka: runtime.kafka,
      pool: runtime.pool,
      writer,
      clock,
      logger,
    });
    runtime.onStop(async () => consumer.stop());
    // Entries that arrive after a checkpoint and then stop are signed within the interval.
    const timer = setInterval(() => {
      store
        .inTransaction((tx) => writer.checkpoint(tx))
        .catch((error: unknown) => logger.warn('checkpoint failed', { err: error }));
    }, config.checkpointIntervalMs);
    timer.unref();
    runtime.onStop(async () => clearInterval(timer));

    runtime.server.addService(
      AUDIT_SERVICE_NAME,
      auditV1.AuditServiceService,
      auditHandlers(reader),
    );
    return { runtime, reader, ingestion: consumer };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
