import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vaxguard/config';
import { readConfig } from './config';

describe('audit configuration', () => {
  it('fails fast listing every missing variable', () => {
    expect(() => readConfig({})).toThrow(ConfigError);
    try {
      readConfig({ GRPC_PORT: 'http' });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'GRPC_PORT: must be an integer',
        'DATABASE_URL: is required',
        'KAFKA_BROKERS: is required',
        'CLIENT_CREDENTIALS: is required',
      ]);
    }
  });
});
