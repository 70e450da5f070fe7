import { env, loadConfig, type ConfigOf, type Environment } from '@vaxguard/config';
import {
  DEFAULT_ADAPTIVE_LIMIT,
  DEFAULT_ADMISSION_LIMITS,
  parseClientCredentials,
  parseServiceAddress,
  type AdmissionLimits,
} from '@vaxguard/grpc-kit';
import type { LogLevel } from '@vaxguard/logging';
import { parseOtlpEndpoint } from '@vaxguard/tracing';

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A number of calls (a ceiling or a limit on calls at once): 1 to 100,000. */
const callCount = (name: string, defaultCount: number) =>
  env.integer(name, { default: defaultCount, min: 1, max: 100_000 });

/**
 * The variables every service reads, with the same names in each. `adaptiveAdmission`:
 * whether GRPC_ADMISSION_ADAPTIVE is on when unset (the service's own default).
 */
export function runtimeConfigSchema(
  defaultPort: number,
  defaults: { readonly adaptiveAdmission?: boolean } = {},
) {
  return {
    grpcHost: env.string('GRPC_HOST', { default: '0.0.0.0' }),
    grpcPort: env.port('GRPC_PORT', { default: defaultPort }),
    databaseUrl: env.postgresUrl('DATABASE_URL'),
    databasePoolSize: env.integer('DATABASE_POOL_SIZE', { default: 10, min: 1, max: 200 }),
    kafkaBrokers: env.hostPorts('KAFKA_BROKERS'),
    logLevel: env.oneOf<LogLevel>('LOG_LEVEL', LOG_LEVELS, { default: 'info' }),
    shutdownGraceMs: env.duration('SHUTDOWN_GRACE', { default: 10_000 }),
    /** Calls taken on at once, in all and per method; beyond, refused SERVER_BUSY at once. */
    maxInFlight: callCount('GRPC_MAX_IN_FLIGHT', DEFAULT_ADMISSION_LIMITS.total),
    maxInFlightPerMethod: callCount(
      'GRPC_MAX_IN_FLIGHT_PER_METHOD',
      DEFAULT_ADMISSION_LIMITS.perMethod,
    ),
    /**
     * Each unary method's concurrency limit adapts to hold its calls' latency near a
     * target (grpc-kit's admission.ts says how), between a floor and the ceilings above.
     */
    admissionAdaptive: env.boolean('GRPC_ADMISSION_ADAPTIVE', {
      default: defaults.adaptiveAdmission ?? false,
    }),
    admissionTargetLatencyMs: env.duration('GRPC_ADMISSION_TARGET_LATENCY', {
      default: DEFAULT_ADAPTIVE_LIMIT.targetLatencyMs,
    }),
    admissionMinLimit: callCount('GRPC_ADMISSION_MIN_LIMIT', DEFAULT_ADAPTIVE_LIMIT.minLimit),
    admissionInitialLimit: callCount(
      'GRPC_ADMISSION_INITIAL_LIMIT',
      DEFAULT_ADAPTIVE_LIMIT.initialLimit,
    ),
    /** `client-id:sha256-hex-of-secret[:scope+scope]`, comma-separated. */
    clientCredentials: env.custom('CLIENT_CREDENTIALS', parseClientCredentials),
    /**
     * Where spans are exported over OTLP/gRPC (`http://host:4317`: Jaeger, an OpenTelemetry
     * collector); unset, tracing is off and no tracing SDK is loaded.
     */
    otlpEndpoint: env.optional(env.custom('OTEL_EXPORTER_OTLP_ENDPOINT', parseOtlpEndpoint)),
    /** Where Prometheus scrapes `/metrics` (HTTP); unset: metrics are kept but not served. */
    metricsPort: env.optional(env.port('METRICS_PORT')),
    /**
     * The address every HTTP listener of the service binds (metrics, audit's tiles, the
     * issuer's keys): loopback unless a deployment opens it (0.0.0.0 in a pod).
     */
    httpBindHost: env.string('HTTP_BIND_HOST', { default: '127.0.0.1' }),
  };
}

/**
 * Where another service is (its `*_GRPC_ADDRESS`): one `host:port`, every instance as
 * `ip:port,ip:port`, or `dns:///name:port`; the peer client balances over them.
 */
export const peerAddress = (variable: string, options: { readonly default?: string } = {}) =>
  env.custom(variable, parseServiceAddress, options);

/**
 * What a service needs to call other services: where the OTP service is (its signing
 * keys verify tokens) and the service's own client credentials.
 */
export function peerConfigSchema() {
  return {
    otpAddress: peerAddress('OTP_GRPC_ADDRESS'),
    serviceClientId: env.custom('SERVICE_CLIENT_ID', parseClientId),
    serviceClientSecret: env.custom('SERVICE_CLIENT_SECRET', parseSecret),
  };
}

export type RuntimeConfig = ConfigOf<ReturnType<typeof runtimeConfigSchema>>;
export type PeerConfig = ConfigOf<ReturnType<typeof peerConfigSchema>>;

const RUNTIME_KEYS = Object.keys(runtimeConfigSchema(0)) as (keyof RuntimeConfig)[];
const PEER_KEYS = Object.keys(peerConfigSchema()) as (keyof PeerConfig)[];

function pick<K extends string>(config: Readonly<Record<K, unknown>>, keys: readonly K[]) {
  return Object.fromEntries(keys.map((key) => [key, config[key]]));
}

/**
 * The runtime's part of a service configuration and nothing else, so the service's
 * own secrets (hash keys, key-encryption keys) are never handed to shared code.
 */
export function runtimeConfigOf(config: RuntimeConfig): RuntimeConfig {
  return pick(config, RUNTIME_KEYS) as RuntimeConfig;
}

/** The peer part of a service configuration, likewise. */
export function peerConfigOf(config: PeerConfig): PeerConfig {
  return pick(config, PEER_KEYS) as PeerConfig;
}

/**
 * The gRPC server's admission limits: the fixed ceilings, and each unary method's
 * adaptive limit unless GRPC_ADMISSION_ADAPTIVE=false. The server refuses to start on
 * limits that do not fit together (a floor above the initial limit).
 */
export function admissionLimitsOf(config: RuntimeConfig): AdmissionLimits {
  return {
    total: config.maxInFlight,
    perMethod: config.maxInFlightPerMethod,
    ...(config.admissionAdaptive
      ? {
          adaptive: {
            targetLatencyMs: config.admissionTargetLatencyMs,
            minLimit: config.admissionMinLimit,
            initialLimit: config.admissionInitialLimit,
          },
        }
      : {}),
  };
}

/** What `nx run <service>:migrate` needs: the database, and how much to log. */
export function readMigrateConfig(environment: Environment) {
  return loadConfig(environment, {
    databaseUrl: env.postgresUrl('DATABASE_URL'),
    logLevel: env.oneOf<LogLevel>('LOG_LEVEL', LOG_LEVELS, { default: 'info' }),
  });
}

function parseClientId(raw: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{1,63}$/.test(raw)) {
    throw new Error('must be 2-64 characters of a-z 0-9 . _ -, starting with a letter or digit');
  }
  return raw;
}

function parseSecret(raw: string): string {
  if (raw.length < 16) throw new Error('must be at least 16 characters');
  return raw;
}
