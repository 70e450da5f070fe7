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

  it('accepts the development SMS sink or SMPP, and the sink needs its file', () => {
    expect(problems({ ...valid, OTP_SMS_DELIVERY: 'twilio' })).toEqual([
      'OTP_SMS_DELIVERY: must be one of dev-sink, smpp',
    ]);
    expect(problems({ ...valid, OTP_DEV_SMS_SINK: '' })).toEqual([
      'OTP_DEV_SMS_SINK: is required when OTP_SMS_DELIVERY=dev-sink',
    ]);
  });

  const smpp = {
    ...valid,
    OTP_SMS_DELIVERY: 'smpp',
    OTP_DEV_SMS_SINK: '',
    OTP_SMPP_HOST: 'smsc.operator.example',
    OTP_SMPP_PORT: '2775',
    OTP_SMPP_SYSTEM_ID: 'vaxguard',
    OTP_SMPP_PASSWORD: 's3cr3t!',
    OTP_SMPP_SENDER_ID: 'VAXGRD',
    OTP_SMPP_DLT_PE_ID: '1101234567890123456',
    OTP_SMPP_DLT_TEMPLATE_ID: '1107161234567890123',
  };

  it('reads the SMS centre when SMPP is chosen, with the documented defaults', () => {
    expect(readConfig(smpp).smpp).toEqual({
      host: 'smsc.operator.example',
      port: 2775,
      systemId: 'vaxguard',
      password: 's3cr3t!',
      systemType: '',
      senderId: 'VAXGRD',
      principalEntityId: '1101234567890123456',
      contentTemplateId: '1107161234567890123',
      messageText:
        '{code} is your VaxGuard verification code. It is valid for 3 minutes. Do not share it with anyone.',
      window: 10,
      maxSubmitsPerSecond: 50,
      enquireLinkMs: 30_000,
      submitTimeoutMs: 5_000,
    });
    expect(readConfig(valid).smpp).toBeUndefined();
  });

  it('needs every SMPP setting when SMPP is chosen, each named', () => {
    expect(problems({ ...valid, OTP_SMS_DELIVERY: 'smpp' })).toEqual([
      'OTP_SMPP_HOST: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_PORT: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_SYSTEM_ID: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_PASSWORD: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_SENDER_ID: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_DLT_PE_ID: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_DLT_TEMPLATE_ID: is required when OTP_SMS_DELIVERY=smpp',
    ]);
  });

  it('refuses SMPP values the protocol or DLT would refuse, never echoing the password', () => {
    const found = problems({
      ...smpp,
      OTP_SMPP_PORT: '0',
      OTP_SMPP_SYSTEM_ID: 'a-system-id-far-too-long',
      OTP_SMPP_PASSWORD: 'longer-than-8',
      OTP_SMPP_SENDER_ID: 'VAX GRD',
      OTP_SMPP_DLT_PE_ID: 'PE-1',
      OTP_SMPP_DLT_TEMPLATE_ID: '',
      OTP_SMPP_MESSAGE_TEXT: 'Your code is ready',
      OTP_SMPP_WINDOW: '0',
    });
    expect(found).toEqual([
      'OTP_SMPP_PORT: must be at least 1',
      'OTP_SMPP_SYSTEM_ID: must be at most 15 printable ASCII characters',
      'OTP_SMPP_PASSWORD: must be 1 to 8 printable ASCII characters',
      'OTP_SMPP_SENDER_ID: must be 3 to 11 letters or digits',
      'OTP_SMPP_DLT_PE_ID: must be the digits of a DLT entity id',
      'OTP_SMPP_DLT_TEMPLATE_ID: is required when OTP_SMS_DELIVERY=smpp',
      'OTP_SMPP_MESSAGE_TEXT: must hold {code} where the code goes',
      'OTP_SMPP_WINDOW: must be at least 1',
    ]);
    expect(found.join('\n')).not.toContain('longer-than-8');
    expect(problems({ ...smpp, OTP_SMPP_MESSAGE_TEXT: `{code} ${'x'.repeat(160)}` })).toEqual([
      'OTP_SMPP_MESSAGE_TEXT: must fit one SMS (160 characters with the code)',
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
