import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vaxguard/config';
import { readConfig, readMigrateConfig } from './config';

describe('audit configuration', () => {
  it('fails fast listing every missing variable', () => {
    expect(() => readConfig({})).toThrow(ConfigError);
    expect.assertions(2);
    try {
      readConfig({ GRPC_PORT: 'http' });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'GRPC_PORT: must be an integer',
        'DATABASE_URL: is required',
        'KAFKA_BROKERS: is required',
        'CLIENT_CREDENTIALS: is required',
        'OTP_GRPC_ADDRESS: is required',
        'SERVICE_CLIENT_ID: is required',
        'SERVICE_CLIENT_SECRET: is required',
      ]);
    }
  });

  it('needs only DATABASE_URL to migrate', () => {
    expect(readMigrateConfig({ DATABASE_URL: 'postgres://a:b@localhost:5432/audit' })).toEqual({
      databaseUrl: 'postgres://a:b@localhost:5432/audit',
      logLevel: 'info',
    });
  });
});
