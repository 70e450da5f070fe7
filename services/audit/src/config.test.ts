import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vaxguard/config';
import { generateSignerKey } from '@vaxguard/tlog';
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
        'AUDIT_LOG_SIGNER_KEY: is required',
      ]);
    }
  });

  it('names the log after its signer key, and refuses another origin or a malformed key without repeating it', () => {
    const { signerKey, verifierKey } = generateSignerKey('audit.vaxguard.example');
    const base = {
      DATABASE_URL: 'postgres://a:b@localhost:5432/audit',
      KAFKA_BROKERS: 'localhost:9092',
      CLIENT_CREDENTIALS: `console:${'0'.repeat(64)}`,
      OTP_GRPC_ADDRESS: 'localhost:50052',
      SERVICE_CLIENT_ID: 'svc-audit',
      SERVICE_CLIENT_SECRET: 'a secret of sixteen or more',
      AUDIT_LOG_SIGNER_KEY: signerKey,
    };
    const config = readConfig(base);
    expect(config.logOrigin).toBe('audit.vaxguard.example');
    expect(config.logSigner.verifierKey).toBe(verifierKey);
    expect(() => readConfig({ ...base, AUDIT_LOG_ORIGIN: 'another.log' })).toThrow(ConfigError);
    const broken = signerKey.slice(0, -4) + 'AAAA';
    try {
      readConfig({ ...base, AUDIT_LOG_SIGNER_KEY: broken });
      expect.unreachable();
    } catch (error) {
      expect(String((error as ConfigError).problems)).toContain('AUDIT_LOG_SIGNER_KEY');
      expect(String((error as ConfigError).problems)).not.toContain(broken.split('+').at(-1));
    }
  });

  it('needs only DATABASE_URL to migrate', () => {
    expect(readMigrateConfig({ DATABASE_URL: 'postgres://a:b@localhost:5432/audit' })).toEqual({
      databaseUrl: 'postgres://a:b@localhost:5432/audit',
      logLevel: 'info',
    });
  });
});
