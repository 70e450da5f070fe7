import { readFile } from 'node:fs/promises';
import { ALL_EVENT_TOPICS, eventActor, topicSpec } from '@vaxguard/event-catalogue';
import { ensureTopics, type IdempotentConsumer } from '@vaxguard/events';
import type { Logger, LogSink } from '@vaxguard/logging';
import { auditV1, identityV1 } from '@vaxguard/proto';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { parseCosignatureVerifierKey, parseVerifierKey } from '@vaxguard/tlog';
import { AnomalyDetector, startAnomalyDetection } from './adapters/anomaly-detection';
import { AUDIT_METHOD_POLICIES, AUDIT_SERVICE_NAME, auditHandlers } from './adapters/grpc-handlers';
import { IdentityResponder } from './adapters/identity-responder';
import { KeptStateFile } from './adapters/kept-state-file';
import { LogMetrics } from './adapters/log-metrics';
import { PgLogAlarm, startLogPublication } from './adapters/log-publication';
import { startLogIngestion } from './adapters/log-ingestion';
import { PgAlertStore } from './adapters/pg-alerts';
import { PgAccessHistory } from './adapters/pg-access-history';
import { PgDirectory } from './adapters/pg-directory';
import { PgLogQueries } from './adapters/pg-log-queries';
import { PgAnomalyWindows } from './adapters/pg-anomaly-windows';
import { PgInstanceLock, LOG_LOCKS } from './adapters/pg-instance-lock';
import { PgLogStore } from './adapters/pg-log-store';
import { runPartitionMaintenance } from './adapters/pg-partitions';
import { startTileHttp } from './adapters/tile-http';
import { httpWitness } from './adapters/witnesses';
import type { Config } from './config';
import { AlertDesk } from './domain/alert-desk';
import { ANOMALY_STATE_RETENTION_MS } from './domain/anomaly-rules';
import { Cosigner } from './domain/cosigner';
import { LogKeeper, type WitnessConfig } from './domain/log-keeper';
import { LogQueries } from './domain/log-queries';
import { LogReader } from './domain/log-reader';
import { PARTITION_MAINTENANCE_INTERVAL_MS, sameHash } from './domain/log-rules';
import { LogWriter } from './domain/log-writer';
import { auditMigrations } from './migrations';

export interface AuditApp {
  readonly runtime: ServiceRuntime;
  readonly reader: LogReader;
  /** What the log keeps outside its database: its last signed and cosigned checkpoints, a halt. */
  readonly keeper: LogKeeper;
  readonly alerts: AlertDesk;
  /** The log's consumer: its counts of applied, duplicate and undecodable events. */
  readonly ingestion: IdempotentConsumer;
  /** Where the log is served as tiles over HTTP, when AUDIT_TILES_HTTP_PORT is set. */
  readonly tilesHttpPort: number | undefined;
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
    const logger = runtime.logger.child({ component: 'audit-log' });
    // The audit service acts in its own name: the client it calls identity with.
    const actor = eventActor('SERVICE', config.serviceClientId);
    const verifier = parseVerifierKey(config.logSigner.verifierKey);
    const keeper = await LogKeeper.open({
      store: new KeptStateFile(config.stateDir),
      alarm: new PgLogAlarm({ pool: runtime.pool, actor, clock, logger }),
      origin: config.logOrigin,
      verifier,
      actor: config.serviceClientId,
      clock,
      publishes: config.witnesses.length > 0 ? 'COSIGNED' : 'SIGNED',
      // Instances share AUDIT_STATE_DIR: each change is made to what the others saved.
      stateLock: new PgInstanceLock(runtime.pool, LOG_LOCKS.keptState),
    });
    if (config.restoredCheckpoint) {
      await adoptRestoredCheckpoint(keeper, config.restoredCheckpoint, config.witnesses, logger);
    }
    if (config.acceptRollback) await acceptRollback(keeper, store, config.acceptRollback, logger);
    if (keeper.halt) {
      const head = await store.head();
      logger.error('the audit log is halted: no checkpoint is signed or published', {
        cause: keeper.halt.cause,
        detail: keeper.halt.description,
        // What an operator who accepts the stored tree as it is sets (README: clearing a halt).
        storedTree: `${head.size}:${Buffer.from(head.rootHash).toString('base64')}`,
      });
    }
    const writer = new LogWriter({
      origin: config.logOrigin,
      signer: config.logSigner,
      policy: {
        everyEntries: config.checkpointEveryEntries,
        intervalMs: config.checkpointIntervalMs,
      },
      clock,
      guard: keeper,
    });
    const reader = new LogReader({
      store,
      kept: keeper,
      origin: config.logOrigin,
      verifierKey: config.logSigner.verifierKey,
      verifier,
    });
    const logQueries = new PgLogQueries(runtime.pool, clock);
    const alerts = new AlertDesk(new PgAlertStore(runtime.pool), logQueries, clock);
    const queries = new LogQueries(
      logQueries,
      logQueries,
      new PgDirectory(runtime.pool),
      new PgAccessHistory(runtime.pool),
    );
    // The first checkpoint (of the empty tree, on a new log) is signed and kept before
    // any call; with witnesses, it is published once they cosign it.
    await store.inTransaction((tx) => writer.checkpoint(tx));
    const publication = startLogPublication({
      store,
      keeper,
      cosigner:
        config.witnesses.length > 0
          ? new Cosigner({ keeper, witnesses: config.witnesses.map(httpWitness), clock })
          : undefined,
      intervalMs: config.checkpointIntervalMs,
      notCosignedAlertAfterMs: config.notCosignedAlertAfterMs,
      logger,
      // One instance publishes at a time: a witness must see one log, never two writers.
      turn: new PgInstanceLock(runtime.pool, LOG_LOCKS.publication),
    });
    runtime.onStop(async () => publication.stop());
    await publication.round();
    await ensureTopics(runtime.kafka, ALL_EVENT_TOPICS.map(topicSpec));

    const consumer = await startLogIngestion({
      kafka: runtime.kafka,
      pool: runtime.pool,
      writer,
      clock,
      logger,
      lag: runtime.consumerLag,
    });
    runtime.onStop(async () => consumer.stop());
    const anomalies = await startAnomalyDetection({
      kafka: runtime.kafka,
      pool: runtime.pool,
      detector: new AnomalyDetector({ config: config.anomalies, actor, clock }),
      logger: runtime.logger.child({ component: 'anomaly-rules' }),
      lag: runtime.consumerLag,
    });
    runtime.onStop(async () => anomalies.stop());

    // High-severity alerts stop their principal: identity is asked after the batch
    // that raised them commits, by a worker that keeps trying until identity answers.
    const identity = runtime.peer(identityV1.IdentityServiceService, config.identityAddress);
    const responder = new IdentityResponder({
      pool: runtime.pool,
      identity,
      actor,
      clock,
      logger: runtime.logger.child({ component: 'automatic-response' }),
    });
    responder.start();
    runtime.onStop(() => responder.stop());
    const windows = new PgAnomalyWindows(runtime.pool);
    runtime.every('anomaly-window-prune', ANOMALY_PRUNE_INTERVAL_MS, async () => {
      await windows.prune(clock(), ANOMALY_STATE_RETENTION_MS);
    });
    // pg_partman makes the entries' partitions ahead of the newest (log-rules
    // PARTITIONS_AHEAD): an append past them would be refused.
    runtime.every('partition-maintenance', PARTITION_MAINTENANCE_INTERVAL_MS, async () => {
      await runPartitionMaintenance(runtime.pool);
    });
    // Entries that arrive after a checkpoint and then stop are signed within the interval.
    runtime.sampleMetrics(new LogMetrics(runtime.pool, runtime.metrics));
    runtime.every('checkpoint', config.checkpointIntervalMs, async () => {
      await store.inTransaction((tx) => writer.checkpoint(tx));
    });

    let tilesHttpPort: number | undefined;
    if (config.tilesHttpPort !== undefined) {
      const http = await startTileHttp({
        checkpoint: () => keeper.published(),
        head: () => store.head(),
        tiles: store.tileStore(),
        entries: (start, end) => store.entries(start, end),
        port: config.tilesHttpPort,
        host: config.httpBindHost,
        logger: runtime.logger.child({ component: 'tile-http' }),
      });
      runtime.onStop(() => http.close());
      tilesHttpPort = http.port;
      runtime.logger.info('the log is served as tiles over http', { port: http.port });
    }

    runtime.server.addService(
      AUDIT_SERVICE_NAME,
      auditV1.AuditServiceService,
      auditHandlers(reader, alerts, queries),
    );
    return { runtime, reader, keeper, alerts, ingestion: consumer, tilesHttpPort };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}

/**
 * AUDIT_RESTORED_CHECKPOINT: the checkpoint a restored log's backup was taken at, read
 * from its file and taken by the keeper when it holds no state yet. A file that cannot
 * be read, or a note this log's key did not sign, stops the start.
 */
async function adoptRestoredCheckpoint(
  keeper: LogKeeper,
  file: string,
  witnesses: readonly WitnessConfig[],
  logger: Logger,
): Promise<void> {
  let note: string;
  try {
    note = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`AUDIT_RESTORED_CHECKPOINT: cannot read ${file}`, { cause: error });
  }
  let adopted: Awaited<ReturnType<LogKeeper['adoptRestored']>>;
  try {
    adopted = await keeper.adoptRestored(
      note,
      witnesses.map((witness) => ({
        name: witness.name,
        verifier: parseCosignatureVerifierKey(witness.verifierKey),
      })),
    );
  } catch (error) {
    throw new Error(
      `AUDIT_RESTORED_CHECKPOINT: ${file} is not a checkpoint this log's key signed`,
      { cause: error },
    );
  }
  if (adopted.outcome === 'KEPT_STATE_EXISTS') {
    logger.warn(
      'AUDIT_RESTORED_CHECKPOINT is set but the log has kept state of its own: ignored; remove it',
    );
    return;
  }
  logger.warn('the restored log goes on from the checkpoint its backup was taken at', {
    treeSize: adopted.size,
    cosignedBy: adopted.cosignedBy,
  });
}

/**
 * AUDIT_ACCEPT_ROLLBACK: the operator names the stored tree (size and root) the halted
 * log is to go on from. Only that exact tree is accepted, so a value left in place can
 * never accept a later tampering; on a log that is not halted it does nothing.
 */
async function acceptRollback(
  keeper: LogKeeper,
  store: PgLogStore,
  accepted: { readonly size: number; readonly rootHash: Uint8Array },
  logger: Logger,
): Promise<void> {
  if (!keeper.halt) {
    logger.warn('AUDIT_ACCEPT_ROLLBACK is set but the log is not halted: ignored; remove it');
    return;
  }
  const head = await store.head();
  if (head.size !== accepted.size || !sameHash(head.rootHash, accepted.rootHash)) {
    throw new Error(
      `AUDIT_ACCEPT_ROLLBACK names a tree of ${accepted.size} entries that is not the stored one (${head.size} entries, root ${Buffer.from(head.rootHash).toString('base64')})`,
    );
  }
  const halt = keeper.halt;
  const outcome = await keeper.acceptTree(store, head);
  logger.warn('the operator accepted the stored tree: the halt is cleared', {
    treeSize: head.size,
    haltCause: halt.cause,
    outcome,
    ...(outcome === 'REPLACED'
      ? {
          detail:
            'the tree does not extend the last kept checkpoint: witnesses that cosigned that one will refuse the new ones',
        }
      : {}),
  });
}
