import { describe, expect, it } from 'vitest';
import { ConfigError, env, loadConfig } from './config';

const schema = {
  port: env.port('SVC_PORT', { default: 50051 }),
  databaseUrl: env.postgresUrl('SVC_DATABASE_URL'),
  brokers: env.hostPorts('KAFKA_BROKERS'),
  hashKey: env.secretKey('SVC_HASH_KEY', { minBytes: 32 }),
  shutdownGrace: env.duration('SVC_SHUTDOWN_GRACE', { default: 10_000 }),
  logLevel: env.oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, {
    default: 'info',
  }),
  sinkFile: env.optional(env.string('SVC_SINK_FILE')),
};

const key = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('parses every variable into its type and fills defaults', () => {
    const config = loadConfig(
      {
        SVC_DATABASE_URL: 'postgres://u:p@localhost:5432/db',
        KAFKA_BROKERS: 'localhost:9092, 127.0.0.1:9093',
        SVC_HASH_KEY: key,
        SVC_SHUTDOWN_GRACE: '30s',
      },
      schema,
    );
    expect(config).toEqual({
      port: 50051,
      databaseUrl: 'postgres://u:p@localhost:5432/db',
      brokers: ['localhost:9092', '127.0.0.1:9093'],
      hashKey: Buffer.alloc(32, 7),
      shutdownGrace: 30_000,
      logLevel: 'info',
      sinkFile: undefined,
    });
  });

  it('lists every bad variable at once and never echoes a secret', () => {
    const secret = Buffer.alloc(8, 1).toString('base64');
    let caught: unknown;
    try {
      loadConfig(
        {
          SVC_PORT: '70000',
          SVC_DATABASE_URL: 'mysql://x',
          KAFKA_BROKERS: 'nonsense',
          SVC_HASH_KEY: secret,
          LOG_LEVEL: 'loud',
          SVC_SHUTDOWN_GRACE: 'soon',
        },
        schema,
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toEqual([
      'SVC_PORT: must be at most 65535',
      'SVC_DATABASE_URL: must be a postgres:// URL',
      'KAFKA_BROKERS: must be a comma-separated list of host:port',
      'SVC_HASH_KEY: must decode to at least 32 bytes',
      'SVC_SHUTDOWN_GRACE: must be a duration such as 500ms, 30s, 15m or 24h',
      'LOG_LEVEL: must be one of debug, info, warn, error',
    ]);
    expect((caught as Error).message).not.toContain(secret);
  });

  it("takes a URL naming a primary and its standby (libpq's several hosts) and checks each host", () => {
    const pair = 'postgres://u:p@10.0.0.3:5432,10.0.0.4:5432/db?target_session_attrs=read-write';
    const base = { SVC_DATABASE_URL: pair, KAFKA_BROKERS: 'k:9092', SVC_HASH_KEY: key };
    expect(loadConfig(base, schema).databaseUrl).toBe(pair);
    expect(() =>
      loadConfig(
        { ...base, SVC_DATABASE_URL: 'postgres://u:p@10.0.0.3:5432,bad host:x/db' },
        schema,
      ),
    ).toThrow(/SVC_DATABASE_URL: must be a URL such as/);
  });

  it('reports missing required variables', () => {
    expect(() => loadConfig({}, schema)).toThrow(
      /SVC_DATABASE_URL: is required[\s\S]*KAFKA_BROKERS: is required[\s\S]*SVC_HASH_KEY: is required/,
    );
  });
});
