import { env } from '@vaxguard/config';
import { parseClientCredentials } from '@vaxguard/grpc-kit';

/** The variables every service reads, with the same names in each. */
export function runtimeConfigSchema(defaultPort: number) {
  return {
    grpcHost: env.string('GRPC_HOST', { default: '0.0.0.0' }),
    grpcPort: env.port('GRPC_PORT', { default: defaultPort }),
    databaseUrl: env.postgresUrl('DATABASE_URL'),
    databasePoolSize: env.integer('DATABASE_POOL_SIZE', { default: 10, min: 1, max: 200 }),
    kafkaBrokers: env.hostPorts('KAFKA_BROKERS'),
    logLevel: env.oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, {
      default: 'info',
    }),
    shutdownGraceMs: env.duration('SHUTDOWN_GRACE', { default: 10_000 }),
    /** `client-id:sha256-hex-of-secret[:scope+scope]`, comma-separated. */
    clientCredentials: env.custom('CLIENT_CREDENTIALS', parseClientCredentials),
  };
}
