import { ActorKind, ALL_EVENT_TOPICS, topicSpec } from '@vaxguard/event-catalogue';
import { ensureTopics, type IdempotentConsumer } from '@vaxguard/events';
import { createServiceClient } from '@vaxguard/grpc-kit';
import type { LogSink } from '@vaxguard/logging';
import { auditV1, identityV1 } from '@vaxguard/proto';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { parseVerifierKey } from '@vaxguard/tlog';
import { AnomalyDetector, startAnomalyDetection } from './adapters/anomaly-detection';
import { AUDIT_METHOD_POLICIES, AUDIT_SERVICE_NAME, auditHandlers } from './adapters/grpc-handlers';
import { IdentityResponder } from './adapters/identity-responder';
import { startLogIngestion } from './adapters/log-ingestion';
import { PgAlertStore } from './adapters/pg-alerts';
import { PgDirectory } from './adapters/pg-directory';
import { PgLogQueries } from './adapters/pg-log-queries';
import { PgAnomalyWindows } from './adapters/pg-anomaly-windows';
import { PgLogStore } from './adapters/pg-log-store';
import type { Config } from './config';
import { AlertDesk } from './domain/alert-desk';
import { ANOMALY_STATE_RETENTION_MS } from './domain/anomaly-rules';
import { LogQueries } from './domain/log-queries';
import { LogReader } from './domain/log-reader';
import { LogWriter } from './domain/log-writer';
import { auditMigrations } from './migrations';

export interface AuditApp {
  readonly runtime: ServiceRuntime;
  readonly reader: LogReader;
  readonly alerts: AlertDesk;
  /** The log's consumer: its counts of applied, duplicate and undecodable events. */
  readonly ingestion: IdempotentConsumer;
}

/** The anomaly rules' windows are pruned this often. */
const ANOMALY_PRUNE_INTERVAL_MS = 10 * 60_000;

/** What tests may replace: the clock and where log lines go. */
export interface AuditAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

/**
 * The audit service's composition root: the shared runtime (given only its part of the
 * configuration), the transparency log in PostgreSQL, the consumer that appends every
 * event of every topic to it, the consumer that runs the anomaly rules, the worker that
 * carries out automatic responses through identity, the checkpoint and pruning timers,
 * and the gRPC handlers that serve checkpoints, proofs, entries, verification,
 * alerts, auditors' queries and exports, and citizens' access histories (named from
 * the log's directory of centres and partners). The consumers and the
 * responder start at once.
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
    const logQueries = new PgLogQueries(runtime.pool, clock);
    const alerts = new AlertDesk(new PgAlertStore(runtime.pool), logQueries, clock);
    const queries = new LogQueries(logQueries, logQueries, new PgDirectory(runtime.pool));
    // The first checkpoint (of the empty tree, on a new log) is there before any call.
    await store.inTransaction((tx) => writer.checkpoint(tx));
    await ensureTopics(runtime.kafka, ALL_EVENT_TOPICS.map(topicSpec));

    const logger = runtime.logger.child({ component: 'audit-log' });
    // The audit service acts in its own name: the client it calls identity with.
    const actor = {
      kind: ActorKind.ACTOR_KIND_SERVICE,
      principalId: config.serviceClientId,
      clientId: config.serviceClientId,
    };
    const consumer = await startLogIngestion({
      kafka: runtime.kafka,
      pool: runtime.pool,
      writer,
      clock,
      logger,
    });
    runtime.onStop(async () => consumer.stop());
    const anomalies = await startAnomalyDetection({
      kafka: runtime.kafka,
      pool: runtime.pool,
      detector: new AnomalyDetector({ config: config.anomalies, actor, clock }),
      logger: runtime.logger.child({ component: 'anomaly-rules' }),
    });
    runtime.onStop(async () => anomalies.stop());

    // High-severity alerts stop their principal: identity is asked after the batch
    // that raised them commits, by a worker that keeps trying until identity answers.
    const identity = createServiceClient(identityV1.IdentityServiceService, {
      address: config.identityAddress,
      clientId: config.serviceClientId,
      secret: config.serviceClientSecret,
    });
    const responder = new IdentityResponder({
      pool: runtime.pool,
      identity,
      actor,
      clock,
      logger: runtime.logger.child({ component: 'automatic-response' }),
    });
    responder.start();
    runtime.onStop(async () => {
      await responder.stop();
      identity.close();
    });
    const windows = new PgAnomalyWindows(runtime.pool);
    const pruner = setInterval(() => {
      windows
        .prune(clock(), ANOMALY_STATE_RETENTION_MS)
        .catch((error: unknown) => logger.warn('anomaly window prune failed', { err: error }));
    }, ANOMALY_PRUNE_INTERVAL_MS);
    pruner.unref();
    runtime.onStop(async () => clearInterval(pruner));
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
      auditHandlers(reader, alerts, queries),
    );
    return { runtime, reader, alerts, ingestion: consumer };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
