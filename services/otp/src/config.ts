import { ConfigError, env, loadConfig, type ConfigOf, type Environment } from '@vaxguard/config';
import { readMigrateConfig as readMigrate, runtimeConfigSchema } from '@vaxguard/runtime';
import {
  DEFAULT_CLIENT_QUOTA_PER_MINUTE,
  DEFAULT_SIGNING_KEY_ROTATION_MS,
  KEY_RETIREMENT_MARGIN_MS,
  MOBILE_LOCKOUT_FAILURES,
  MOBILE_LOCKOUT_MS,
} from './domain/otp-rules';

export const DEFAULT_PORT = 50052;
const SECRET_MIN_BYTES = 32;

function otpConfigSchema() {
  return {
    ...runtimeConfigSchema(DEFAULT_PORT),
    /** HMAC key of stored OTP codes. */
    otpHashKey: env.secretKey('OTP_HASH_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** Key of the mobile blind index, shared with identity. */
    mobileIndexKey: env.secretKey('MOBILE_INDEX_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** Seals private signing keys and the mobiles kept for resends. */
    keyEncryptionKey: env.secretKey('OTP_KEY_ENCRYPTION_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** How codes reach phones. Only the development sink exists so far; it must be chosen explicitly. */
    smsDelivery: env.oneOf('OTP_SMS_DELIVERY', ['dev-sink'] as const),
    devSmsSink: env.optional(env.string('OTP_DEV_SMS_SINK')),
    clientQuotaPerMinute: env.integer('OTP_CLIENT_QUOTA_PER_MINUTE', {
      default: DEFAULT_CLIENT_QUOTA_PER_MINUTE,
      min: 1,
      max: 1_000_000,
    }),
    // NIST SP 800-63B allows at most 100; lower is stricter, higher is refused.
    lockoutFailures: env.integer('OTP_MOBILE_LOCKOUT_FAILURES', {
      default: MOBILE_LOCKOUT_FAILURES,
      min: 1,
      max: MOBILE_LOCKOUT_FAILURES,
    }),
    lockoutMs: env.duration('OTP_MOBILE_LOCKOUT_DURATION', { default: MOBILE_LOCKOUT_MS }),
    signingKeyRotationMs: env.duration('OTP_SIGNING_KEY_ROTATION', {
      default: DEFAULT_SIGNING_KEY_ROTATION_MS,
    }),
    signingKeyRefreshMs: env.duration('OTP_SIGNING_KEY_REFRESH', { default: 60_000 }),
  };
}

/** The OTP service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const schema = otpConfigSchema();
  let problems: string[] = [];
  let config: ConfigOf<typeof schema> | undefined;
  try {
    config = loadConfig(environment, schema);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = [...error.problems];
  }
  const delivery = environment['OTP_SMS_DELIVERY']?.trim();
  const sink = environment['OTP_DEV_SMS_SINK']?.trim();
  if (delivery === 'dev-sink' && !sink)
    problems.push('OTP_DEV_SMS_SINK: is required when OTP_SMS_DELIVERY=dev-sink');
  if (config && config.signingKeyRefreshMs > KEY_RETIREMENT_MARGIN_MS) {
    problems.push(`OTP_SIGNING_KEY_REFRESH: must be at most ${KEY_RETIREMENT_MARGIN_MS / 60_000}m`);
  }
  if (config && config.signingKeyRotationMs < 3_600_000) {
    problems.push('OTP_SIGNING_KEY_ROTATION: must be at least 1h');
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return config;
}

export type Config = ReturnType<typeof readConfig>;

/** What `nx run otp:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}

/**
 * What `nx run otp:rotate-keys` reads: DATABASE_URL, LOG_LEVEL and OTP_KEY_ENCRYPTION_KEY,
 * to seal the new signing key.
 */
export function readRotateKeysConfig(environment: Environment = process.env) {
  const { databaseUrl, logLevel } = runtimeConfigSchema(DEFAULT_PORT);
  return loadConfig(environment, {
    databaseUrl,
    logLevel,
    keyEncryptionKey: env.secretKey('OTP_KEY_ENCRYPTION_KEY', { minBytes: SECRET_MIN_BYTES }),
  });
}
