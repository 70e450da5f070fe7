import { createServer } from 'node:http';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import {
  AccessRegistry,
  createAuthenticator,
  otpServiceKeys,
  startAccessRegistryListener,
  startRevocationListener,
  type MethodPolicies,
} from '@vaxguard/auth';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { createPool, migrate, type Migration, type Pool } from '@vaxguard/db';
import { eventsTopic, topicSpec, type Producer as EventProducer } from '@vaxguard/event-catalogue';
import {
  ConsumerLagMonitor,
  createKafka,
  ensureTopics,
  OutboxMetrics,
  OutboxRelay,
  type BroadcastListener,
} from '@vaxguard/events';
import {
  clientSecretAuthenticator,
  createServiceClient,
  currentCallBudget,
  GrpcServer,
  outsideAnyCall,
  staticClientRegistry,
  type ServiceClient,
} from '@vaxguard/grpc-kit';
import { createLogger, type Logger, type LogSink } from '@vaxguard/logging';
import {
  createMetricsRegistry,
  METRICS_SAMPLE_INTERVAL_MS,
  metricsRequestListener,
  type Registry,
} from '@vaxguard/metrics';
import { otpV1 } from '@vaxguard/proto';
import { startPeriodic, type PeriodicTask } from './periodic';
import { listenOnLoopback } from './loopback-http';
import {
  JwksCache,
  RevocationSet,
  TOKEN_ISSUER,
  TokenVerifier,
  type FetchKeys,
} from '@vaxguard/tokens';
import { admissionLimitsOf, runtimeConfigOf, type PeerConfig, type RuntimeConfig } from './config';
import { startTracing, TRACING_OFF, type Tracing } from '@vaxguard/tracing';

export interface RuntimeOptions {
  /** Service name: `identity`, `otp`, `vaccination-record` or `audit`. */
  readonly service: EventProducer;
  /** The runtime's part of the configuration only (`runtimeConfigOf`). */
  readonly config: RuntimeConfig;
  readonly migrations: readonly Migration[];
  /**
   * Where the keys of the OTP service's tokens come from: its GetSigningKeys over gRPC
   * (`peer`), or, in the OTP service itself, `tokenKeys`.
   */
  readonly peer?: PeerConfig;
  readonly tokenKeys?: FetchKeys;
  /** The methods that ask for a VaxGuard token, and of which audience. */
  readonly methods?: MethodPolicies;
  readonly logSink?: LogSink;
  readonly clock?: () => Date;
}

// Revocations of expired tokens are dropped from memory this often.
const REVOCATION_PRUNE_INTERVAL_MS = 60_000;

/**
 * What every service runs on: logger, pool, schema, Kafka producer, outbox relay, the
 * token verifier with the revocations heard from Kafka, and the gRPC server with the
 * shared authenticator, started in order and stopped in reverse. A service's app.ts
 * creates it, adds its gRPC services and background workers; main.ts starts it.
 */
export class ServiceRuntime {
  private readonly stoppers: (() => Promise<void>)[] = [];
  private readonly peers: { close(): void }[] = [];
  private stopping: Promise<void> | undefined;
  /** Spans exported to OTEL_EXPORTER_OTLP_ENDPOINT, or off; flushed last at shutdown. */
  private tracing: Tracing = TRACING_OFF;
  port = 0;
  /** Where `/metrics` is served once started (METRICS_PORT; the port bound for 0). */
  metricsPort: number | undefined;
  private closeMetricsHttp: (() => Promise<void>) | undefined;

  private constructor(
    readonly options: RuntimeOptions,
    readonly logger: Logger,
    readonly pool: Pool,
    readonly kafka: Kafka,
    readonly producer: Producer,
    readonly relay: OutboxRelay,
    readonly server: GrpcServer,
    readonly verifier: TokenVerifier,
    readonly revocations: RevocationSet,
    /** Identity's partners, suspensions and API locks, as last heard. */
    readonly accessRegistry: AccessRegistry,
    private readonly listeners: readonly BroadcastListener[],
    private readonly closeClients: () => void,
    /**
     * The process's one metrics registry (libs/metrics): the gRPC server's, the outbox's
     * and the consumers' series are in it; a service adds its own.
     */
    readonly metrics: Registry,
    /** Where a consumer's group lag is watched (IdempotentConsumer's `lag` option). */
    readonly consumerLag: ConsumerLagMonitor,
  ) {}

  /**
   * Connects to PostgreSQL and Kafka, migrates the schema and reads the revocations
   * that can still matter; serves nothing yet.
   */
  static async create(options: RuntimeOptions): Promise<ServiceRuntime> {
    const config = runtimeConfigOf(options.config);
    const clock = options.clock ?? (() => new Date());
    // First, so that everything the service does from here on can be traced.
    const tracing = await startTracing({ service: options.service, endpoint: config.otlpEndpoint });
    const logger = createLogger({
      service: options.service,
      level: config.logLevel,
      ...(options.logSink ? { sink: options.logSink } : {}),
    });
    const pool = createPool({
      connectionString: config.databaseUrl,
      applicationName: options.service,
      max: config.databasePoolSize,
      logger,
      // Work done for a call ends by its deadline and is abandoned when its caller goes.
      callBudget: currentCallBudget,
    });
    const closers: (() => void)[] = [];
    const listeners: BroadcastListener[] = [];
    const metrics = createMetricsRegistry(options.service);
    try {
      await migrate(pool, options.migrations, logger);
      const kafka = createKafka({
        clientId: options.service,
        brokers: config.kafkaBrokers,
        logger,
      });
      await ensureTopics(kafka, [topicSpec(eventsTopic(options.service))]);
      // One request in flight: a retry never overtakes the batch before it, so
      // per-subject order survives broker hiccups. Duplicates a retry may cause are
      // absorbed by idempotent consumers, so the producer needs no EoS machinery.
      const producer = kafka.producer({
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      const relay = new OutboxRelay({
        connectionString: config.databaseUrl,
        pool,
        producer,
        logger: logger.child({ component: 'outbox-relay' }),
      });

      const revocations = new RevocationSet(clock);
      listeners.push(
        await startRevocationListener({
          kafka,
          service: options.service,
          revocations,
          logger,
          clock,
        }),
      );
      // Partners, suspensions and locks in force are known before the first call.
      const accessRegistry = new AccessRegistry(clock);
      listeners.push(
        await startAccessRegistryListener({
          kafka,
          service: options.service,
          registry: accessRegistry,
          logger,
        }),
      );
      // A service's own credentials come from its configuration, partners from identity.
      const configured = staticClientRegistry(config.clientCredentials);
      const verifier = new TokenVerifier({
        issuers: {
          [TOKEN_ISSUER]: new JwksCache(tokenKeysOf(options, metrics, closers), { clock }),
        },
        revocations,
        clock,
      });
      const server = new GrpcServer({
        logger,
        admission: admissionLimitsOf(config),
        metrics,
        authenticate: createAuthenticator({
          clients: clientSecretAuthenticator({
            find: (clientId) => configured.find(clientId) ?? accessRegistry.find(clientId),
          }),
          verifier,
          registry: accessRegistry,
          ...(options.methods ? { methods: options.methods } : {}),
        }),
      });
      const runtime = new ServiceRuntime(
        { ...options, config },
        logger,
        pool,
        kafka,
        producer,
        relay,
        server,
        verifier,
        revocations,
        accessRegistry,
        listeners,
        () => closers.forEach((close) => close()),
        metrics,
        new ConsumerLagMonitor(kafka, metrics),
      );
      runtime.sampleMetrics(new OutboxMetrics(pool, metrics));
      runtime.sampleMetrics(runtime.consumerLag);
      runtime.tracing = tracing;
      runtime.every('revocation-prune', REVOCATION_PRUNE_INTERVAL_MS, async () => {
        revocations.prune();
      });
      return runtime;
    } catch (error) {
      await Promise.all(listeners.map((listener) => listener.stop().catch(() => undefined)));
      closers.forEach((close) => close());
      await pool.end().catch(() => undefined);
      await tracing.shutdown().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A client application's scopes, wherever it is registered: the service's
   * configuration, or identity's partner registry. Empty for an unknown client.
   */
  clientScopes(clientId: string): readonly string[] {
    const configured = this.options.config.clientCredentials.find(
      (credential) => credential.clientId === clientId,
    );
    return configured?.scopes ?? this.accessRegistry.find(clientId)?.scopes ?? [];
  }

  /** Registers work to stop at shutdown, before the relay, producer and pool close. */
  onStop(stop: () => Promise<void>): void {
    this.stoppers.push(stop);
  }

  /**
   * A client of another VaxGuard service at `address`, calling with this service's own
   * credentials (its peer configuration), closed at shutdown after every worker has
   * stopped. The one way a service builds its peers. A call made while serving a call
   * takes its deadline (less DEADLINE_PROPAGATION_MARGIN_MS) and cancellation from it.
   */
  peer<D extends ServiceDefinition>(
    definition: D,
    address: string,
    options: { readonly deadlineMs?: number } = {},
  ): ServiceClient<D> {
    const peer = this.options.peer;
    if (!peer)
      throw new Error(`${this.options.service}: a peer client needs the peer configuration`);
    const client = createServiceClient(definition, {
      address,
      clientId: peer.serviceClientId,
      secret: peer.serviceClientSecret,
      metrics: this.metrics,
      ...options,
    });
    this.peers.push(client);
    return client;
  }

  /**
   * Samples gauges read by a query (`sample`) every METRICS_SAMPLE_INTERVAL_MS until
   * shutdown, off the calls' path: the outbox's, the consumers' lag, a service's own.
   */
  sampleMetrics(sampler: { sample(): Promise<void> }): void {
    this.every('metrics-sample', METRICS_SAMPLE_INTERVAL_MS, () => sampler.sample());
  }

  /**
   * Runs `task` every `intervalMs` until shutdown, which aborts the task's signal and
   * waits for a run in progress (`startPeriodic`); failures are logged under `name` and
   * retried next interval.
   */
  every(
    name: string,
    intervalMs: number,
    task: (signal: AbortSignal) => Promise<void>,
  ): PeriodicTask {
    const periodic = startPeriodic(task, intervalMs, this.logger.child({ component: name }));
    this.onStop(() => periodic.stop());
    return periodic;
  }

  async start(): Promise<number> {
    const { grpcHost, grpcPort } = this.options.config;
    this.relay.start();
    this.port = await this.server.listen(grpcHost, grpcPort);
    this.logger.info('service started', { host: grpcHost, port: this.port });
    const { metricsPort, httpBindHost } = this.options.config;
    if (metricsPort !== undefined) {
      const onError = (error: unknown) =>
        this.logger.warn('metrics collection failed', { err: error });
      const server = createServer(metricsRequestListener(this.metrics, onError));
      const http = await listenOnLoopback(server, metricsPort, httpBindHost);
      this.metricsPort = http.port;
      this.closeMetricsHttp = () => http.close();
      this.logger.info('metrics served', { host: httpBindHost, port: http.port, path: '/metrics' });
    }
    return this.port;
  }

  /**
   * Stops in reverse order of dependence: no new calls, in-flight calls drained, workers
   * stopped, the outbox flushed to Kafka, then producer and pool closed.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  /** Stops cleanly on SIGINT or SIGTERM, then exits. */
  stopOnSignals(): void {
    const handle = (signal: NodeJS.Signals): void => {
      this.logger.info('shutting down', { signal });
      this.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          this.logger.error('unclean shutdown', { err: error });
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', handle);
    process.once('SIGTERM', handle);
  }

  private async doStop(): Promise<void> {
    await this.server.shutdown(this.options.config.shutdownGraceMs);
    for (const stop of [...this.stoppers].reverse()) {
      await stop().catch((error: unknown) =>
        this.logger.warn('worker stop failed', { err: error }),
      );
    }
    await Promise.all(this.listeners.map((listener) => listener.stop()));
    this.closeClients();
    for (const peer of this.peers) peer.close();
    await this.relay.stop();
    await this.producer.disconnect().catch(() => undefined);
    await this.consumerLag.stop();
    await this.pool.end();
    // Scraped to the end, so the drain shows in the metrics.
    await this.closeMetricsHttp?.();
    this.logger.info('service stopped');
    // Last: the spans of the drained calls and of the outbox's flush go out too.
    await this.tracing
      .shutdown()
      .catch((error: unknown) =>
        this.logger.warn('trace export at shutdown failed', { err: error }),
      );
  }
}

/** The OTP service's signing keys: given (in the OTP service), or fetched over gRPC. */
function tokenKeysOf(
  options: RuntimeOptions,
  metrics: Registry,
  closers: (() => void)[],
): FetchKeys {
  if (options.tokenKeys) return options.tokenKeys;
  const peer = options.peer;
  if (!peer) throw new Error(`${options.service}: the runtime needs peer or tokenKeys`);
  const otp = createServiceClient(otpV1.OtpServiceService, {
    address: peer.otpAddress,
    clientId: peer.serviceClientId,
    secret: peer.serviceClientSecret,
    metrics,
  });
  closers.push(() => otp.close());
  // One fetch serves every call waiting for the keys (JwksCache): no one caller's
  // deadline or departure may cut it short.
  const fetchKeys = otpServiceKeys(otp);
  return () => outsideAnyCall(fetchKeys);
}
