import { describe, expect, it } from 'vitest';
import { configProblems } from '@vaxguard/testing';
import { readConfig } from './config';

const secret = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const valid = {
  DATABASE_URL: 'postgres://otp:otp@localhost:5432/otp',
  KAFKA_BROKERS: 'localhost:9092',
  CLIENT_CREDENTIALS: `cowin-portal:${'a'.repeat(64)}`,
  OTP_HASH_KEY: secret(1),
  MOBILE_INDEX_KEY: secret(2),
  OTP_KEY_ENCRYPTION_KEY: secret(3),
  OTP_SMS_DELIVERY: 'dev-sink',
  OTP_DEV_SMS_SINK: '/tmp/vaxguard-sms.jsonl',
};

const problems = (environment: Record<string, string>) => configProblems(readConfig, environment);

describe('otp configuration', () => {
  it('reads a complete configuration with the documented defaults', () => {
    const config = readConfig(valid);
    expect(config).toMatchObject({
      grpcPort: 50052,
      smsDelivery: 'dev-sink',
      devSmsSink: '/tmp/vaxguard-sms.jsonl',
      clientQuotaPerMinute: 30,
      lockoutFailures: 100,
      lockoutMs: 3_600_000,
      signingKeyRotationMs: 24 * 3_600_000,
      signingKeyRefreshMs: 60_000,
    });
    expect(config.otpHashKey).toEqual(Buffer.alloc(32, 1));
  });

  it('fails fast listing every missing variable', () => {
    expect(problems({})).toEqual([
      'DATABASE_URL: is required',
      'KAFKA_BROKERS: is required',
      'CLIENT_CREDENTIALS: is required',
      'OTP_HASH_KEY: is required',
      'MOBILE_INDEX_KEY: is required',
      'OTP_KEY_ENCRYPTION_KEY: is required',
      'OTP_SMS_DELIVERY: is required',
    ]);
  });

  it('refuses short secrets without echoing them', () => {
    const short = Buffer.alloc(16, 9).toString('base64');
    const found = problems({ ...valid, OTP_HASH_KEY: short, MOBILE_INDEX_KEY: 'not base64!' });
    expect(found).toEqual([
      'OTP_HASH_KEY: must decode to at least 32 bytes',
      'MOBILE_INDEX_KEY: must be base64',
    ]);
    expect(found.join('\n')).not.toContain(short);
  });

  it('accepts only the development SMS sink for now, and needs its file', () => {
    expect(problems({ ...valid, OTP_SMS_DELIVERY: 'twilio' })).toEqual([
      'OTP_SMS_DELIVERY: must be one of dev-sink',
    ]);
    expect(problems({ ...valid, OTP_DEV_SMS_SINK: '' })).toEqual([
      'OTP_DEV_SMS_SINK: is required when OTP_SMS_DELIVERY=dev-sink',
    ]);
  });

  it('refuses a lockout threshold weaker than NIST (more than 100 failures)', () => {
    expect(problems({ ...valid, OTP_MOBILE_LOCKOUT_FAILURES: '101' })).toEqual([
      'OTP_MOBILE_LOCKOUT_FAILURES: must be at most 100',
    ]);
  });

  it('keeps key refreshes within the retirement margin and rotations sensible', () => {
    expect(
      problems({ ...valid, OTP_SIGNING_KEY_REFRESH: '10m', OTP_SIGNING_KEY_ROTATION: '30m' }),
    ).toEqual([
      'OTP_SIGNING_KEY_REFRESH: must be at most 5m',
      'OTP_SIGNING_KEY_ROTATION: must be at least 1h',
    ]);
  });
});
