import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { createPool, migrate, type Migration, type Pool } from '@vaxguard/db';
import { createKafka, ensureTopics, eventsTopic, OutboxRelay } from '@vaxguard/events';
import { GrpcServer, type Authenticator } from '@vaxguard/grpc-kit';
import { createLogger, type Logger, type LogLevel, type LogSink } from '@vaxguard/logging';

export interface RuntimeOptions {
  /** Service name: `identity`, `otp`, `vaccination-record` or `audit`. */
  readonly service: string;
  readonly grpcHost: string;
  readonly grpcPort: number;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  readonly kafkaBrokers: readonly string[];
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  readonly migrations: readonly Migration[];
  readonly authenticate: Authenticator;
  readonly logSink?: LogSink;
}

/**
 * What every service runs on: logger, pool, schema, Kafka producer, outbox relay and
 * gRPC server, started in order and stopped in reverse. A service's main.ts creates
 * it, adds its gRPC services and background workers, and starts it.
 */
export class ServiceRuntime {
  private readonly stoppers: (() => Promise<void>)[] = [];
  private stopping: Promise<void> | undefined;
  port = 0;

  private constructor(
    readonly options: RuntimeOptions,
    readonly logger: Logger,
    readonly pool: Pool,
    readonly kafka: Kafka,
    readonly producer: Producer,
    readonly relay: OutboxRelay,
    readonly server: GrpcServer,
  ) {}

  /** Connects to PostgreSQL and Kafka and migrates the schema; serves nothing yet. */
  static async create(options: RuntimeOptions): Promise<ServiceRuntime> {
    const logger = createLogger({
      service: options.service,
      level: options.logLevel,
      ...(options.logSink ? { sink: options.logSink } : {}),
    });
    const pool = createPool({
      connectionString: options.databaseUrl,
      applicationName: options.service,
      max: options.databasePoolSize,
      logger,
    });
    try {
      await migrate(pool, options.migrations, logger);
      const kafka = createKafka({
        clientId: options.service,
        brokers: options.kafkaBrokers,
        logger,
      });
      await ensureTopics(kafka, [{ topic: eventsTopic(options.service), numPartitions: 6 }]);
      // One request in flight: a retry never overtakes the batch before it, so
      // per-subject order survives broker hiccups. Duplicates a retry may cause are
      // absorbed by idempotent consumers, so the producer needs no EoS machinery.
      const producer = kafka.producer({
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      const relay = new OutboxRelay({
        connectionString: options.databaseUrl,
        pool,
        producer,
        logger: logger.child({ component: 'outbox-relay' }),
      });
      const server = new GrpcServer({ logger, authenticate: options.authenticate });
      return new ServiceRuntime(options, logger, pool, kafka, producer, relay, server);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  /** Registers work to stop at shutdown, before the relay, producer and pool close. */
  onStop(stop: () => Promise<void>): void {
    this.stoppers.push(stop);
  }

  async start(): Promise<number> {
    this.relay.start();
    this.port = await this.server.listen(this.options.grpcHost, this.options.grpcPort);
    this.logger.info('service started', { host: this.options.grpcHost, port: this.port });
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
    await this.server.shutdown(this.options.shutdownGraceMs);
    for (const stop of [...this.stoppers].reverse()) {
      await stop().catch((error: unknown) =>
        this.logger.warn('worker stop failed', { err: error }),
      );
    }
    await this.relay.stop();
    await this.producer.disconnect().catch(() => undefined);
    await this.pool.end();
    this.logger.info('service stopped');
  }
}
