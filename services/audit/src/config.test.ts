import { describe, expect, it } from 'vitest';
import { ConfigError } from '@vaxguard/config';
import { createCosignatureSigner, generateSignerKey } from '@vaxguard/tlog';
import { readConfig, readMigrateConfig } from './config';
import { compileAnomalyConfig } from './domain/anomaly-rules';

const BASE = {
  DATABASE_URL: 'postgres://a:b@localhost:5432/audit',
  KAFKA_BROKERS: 'localhost:9092',
  CLIENT_CREDENTIALS: `console:${'0'.repeat(64)}`,
  OTP_GRPC_ADDRESS: 'localhost:50052',
  SERVICE_CLIENT_ID: 'svc-audit',
  SERVICE_CLIENT_SECRET: 'a secret of sixteen or more',
  AUDIT_LOG_SIGNER_KEY: generateSignerKey('audit.vaxguard.example').signerKey,
  AUDIT_STATE_DIR: '/var/lib/vaxguard/audit',
  AUDIT_WITNESSES: 'none',
};

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
        'AUDIT_STATE_DIR: is required',
        'AUDIT_WITNESSES: is required',
      ]);
    }
  });

  it('names the log after its signer key, and refuses another origin or a malformed key without repeating it', () => {
    const { signerKey, verifierKey } = generateSignerKey('audit.vaxguard.example');
    const base = { ...BASE, AUDIT_LOG_SIGNER_KEY: signerKey };
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

  it("uses the anomaly rules' defaults and identity's local address when nothing is set", () => {
    const config = readConfig(BASE);
    expect(config.anomalies).toEqual(compileAnomalyConfig());
    expect(config.identityAddress).toBe('127.0.0.1:50051');
  });

  it('reads anomaly thresholds and working hours, and refuses inconsistent ones at start-up', () => {
    const config = readConfig({
      ...BASE,
      IDENTITY_GRPC_ADDRESS: 'identity:50051',
      AUDIT_ANOMALY_STAFF_READS_PER_HOUR: '3',
      AUDIT_ANOMALY_STAFF_READS_PER_DAY: '10',
      AUDIT_ANOMALY_PARTNER_SURGE_FACTOR: '4.5',
      AUDIT_ANOMALY_OTP_QUOTA_REFUSALS_PER_MINUTE: '25',
      AUDIT_ANOMALY_WORKING_HOURS: '09:30-18:00',
      AUDIT_ANOMALY_SECRET_CODE_FAILURES_PER_HOUR: '8',
      AUDIT_ANOMALY_SECRET_CODE_LOCKS_PER_HOUR: '2',
      AUDIT_ANOMALY_STAFF_LOGIN_FAILED_USERNAMES_PER_10M: '12',
      AUDIT_ANOMALY_PARTNER_UNREGISTERED_CONSENTS_PER_10M: '50',
    });
    expect(config.identityAddress).toBe('identity:50051');
    expect(config.anomalies).toMatchObject({
      staffReadsPerHour: 3,
      staffReadsPerDay: 10,
      partnerSurgeFactor: 4.5,
      otpQuotaRefusalsPerMinute: 25,
      secretCodeFailuresPerHour: 8,
      secretCodeLocksPerHour: 2,
      staffLoginFailedUsernamesPer10m: 12,
      partnerUnregisteredConsentsPer10m: 50,
      workingHours: { startMinute: 9 * 60 + 30, endMinute: 18 * 60 },
    });
    // A daily limit under the hourly one would let a drip go unseen.
    expect(() => readConfig({ ...BASE, AUDIT_ANOMALY_STAFF_READS_PER_HOUR: '300' })).toThrow(
      /staffReadsPerDay/,
    );
    expect(() => readConfig({ ...BASE, AUDIT_ANOMALY_WORKING_HOURS: '9-18' })).toThrow(ConfigError);
    expect(() => readConfig({ ...BASE, AUDIT_ANOMALY_OTP_FAILURES_PER_15M: '0' })).toThrow(
      ConfigError,
    );
  });

  it("reads the witnesses, or none as an explicit choice, and the operator's answer to a halt", () => {
    const witness = createCosignatureSigner('witness.vaxguard.example');
    const config = readConfig({
      ...BASE,
      AUDIT_WITNESSES: `local|http://127.0.0.1:7380|${witness.verifierKey}`,
      AUDIT_NOT_COSIGNED_ALERT_AFTER: '2s',
      AUDIT_ACCEPT_ROLLBACK: `12:${Buffer.alloc(32, 7).toString('base64')}`,
    });
    expect(config.stateDir).toBe('/var/lib/vaxguard/audit');
    expect(config.witnesses).toEqual([
      { name: 'local', url: 'http://127.0.0.1:7380', verifierKey: witness.verifierKey },
    ]);
    expect(config.notCosignedAlertAfterMs).toBe(2_000);
    expect(config.acceptRollback?.size).toBe(12);
    expect(Buffer.from(config.acceptRollback?.rootHash ?? [])).toEqual(Buffer.alloc(32, 7));
    expect(readConfig(BASE).witnesses).toEqual([]);
    expect(readConfig(BASE).notCosignedAlertAfterMs).toBe(5 * 60_000);
    // The log's own key is not a witness's (cosignature/v1) key; a url is needed.
    const bad = [
      `local|http://127.0.0.1:7380|${generateSignerKey('w').verifierKey}`,
      `local|127.0.0.1:7380|${witness.verifierKey}`,
      '',
    ];
    for (const value of bad) {
      expect(() => readConfig({ ...BASE, AUDIT_WITNESSES: value })).toThrow(/AUDIT_WITNESSES/);
    }
    expect(() => readConfig({ ...BASE, AUDIT_ACCEPT_ROLLBACK: '12:abc' })).toThrow(
      /AUDIT_ACCEPT_ROLLBACK/,
    );
  });

  it('needs only DATABASE_URL to migrate', () => {
    expect(readMigrateConfig({ DATABASE_URL: 'postgres://a:b@localhost:5432/audit' })).toEqual({
      databaseUrl: 'postgres://a:b@localhost:5432/audit',
      logLevel: 'info',
    });
  });
});
