import { ConfigError, env, loadConfig, type ConfigOf, type Environment } from '@vaxguard/config';
import { readMigrateConfig as readMigrate, runtimeConfigSchema } from '@vaxguard/runtime';
import {
  DEFAULT_CLIENT_QUOTA_PER_MINUTE,
  DEFAULT_OTP_SMS_TEXT,
  OTP_DIGITS,
  OTP_SMS_CODE_PLACEHOLDER,
  otpSmsText,
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
    /**
     * How codes reach phones, chosen explicitly: the development sink (a local file) or
     * an operator's SMS centre over SMPP 3.4 (`smpp`, with the OTP_SMPP_* settings).
     */
    smsDelivery: env.oneOf('OTP_SMS_DELIVERY', ['dev-sink', 'smpp'] as const),
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

/** SMPP 3.4 field limits (§5.2): C-octet strings with their terminating NUL. */
const SMPP_SYSTEM_ID_MAX = 15;
const SMPP_PASSWORD_MAX = 8;
const SMPP_SYSTEM_TYPE_MAX = 12;
/** An alphanumeric sender header: 3 to 11 letters or digits (TRAI headers are 6). */
const SENDER_HEADER = /^[A-Za-z0-9]{3,11}$/;
/** DLT ids are digits (19 in the registrations seen so far). */
const DLT_ID = /^\d{1,30}$/;
/** The text goes out in the SMS centre's default alphabet: printable ASCII, one SMS. */
const SMS_TEXT = /^[\x20-\x7e]+$/;
const SMS_MAX_CHARS = 160;

function smppString(variable: string, pattern: RegExp, what: string) {
  return env.custom(variable, (raw) => {
    if (!pattern.test(raw)) throw new Error(`must be ${what}`);
    return raw;
  });
}

function boundedString(variable: string, max: number, options: { default?: string } = {}) {
  return env.custom(
    variable,
    (raw) => {
      if (raw.length > max || !/^[\x21-\x7e]*$/.test(raw))
        throw new Error(`must be at most ${max} printable ASCII characters`);
      return raw;
    },
    options,
  );
}

/** The SMS centre's settings, every one checked when OTP_SMS_DELIVERY=smpp. */
function smppConfigSchema() {
  return {
    host: env.string('OTP_SMPP_HOST'),
    port: env.integer('OTP_SMPP_PORT', { min: 1, max: 65_535 }),
    systemId: boundedString('OTP_SMPP_SYSTEM_ID', SMPP_SYSTEM_ID_MAX),
    /** The bind password, from the deployment's secret; never echoed. */
    password: env.custom('OTP_SMPP_PASSWORD', (raw) => {
      if (raw.length > SMPP_PASSWORD_MAX || !/^[\x21-\x7e]+$/.test(raw))
        throw new Error(`must be 1 to ${SMPP_PASSWORD_MAX} printable ASCII characters`);
      return raw;
    }),
    systemType: boundedString('OTP_SMPP_SYSTEM_TYPE', SMPP_SYSTEM_TYPE_MAX, { default: '' }),
    /** The sender header registered on the DLT platform (source_addr). */
    senderId: smppString('OTP_SMPP_SENDER_ID', SENDER_HEADER, '3 to 11 letters or digits'),
    principalEntityId: smppString('OTP_SMPP_DLT_PE_ID', DLT_ID, 'the digits of a DLT entity id'),
    contentTemplateId: smppString(
      'OTP_SMPP_DLT_TEMPLATE_ID',
      DLT_ID,
      'the digits of a DLT content template id',
    ),
    messageText: env.custom(
      'OTP_SMPP_MESSAGE_TEXT',
      (raw) => {
        if (!raw.includes(OTP_SMS_CODE_PLACEHOLDER))
          throw new Error(`must hold ${OTP_SMS_CODE_PLACEHOLDER} where the code goes`);
        if (!SMS_TEXT.test(raw)) throw new Error('must be printable ASCII');
        if (otpSmsText(raw, '0'.repeat(OTP_DIGITS)).length > SMS_MAX_CHARS)
          throw new Error(`must fit one SMS (${SMS_MAX_CHARS} characters with the code)`);
        return raw;
      },
      { default: DEFAULT_OTP_SMS_TEXT },
    ),
    window: env.integer('OTP_SMPP_WINDOW', { default: 10, min: 1, max: 1_000 }),
    maxSubmitsPerSecond: env.integer('OTP_SMPP_MAX_SUBMITS_PER_SECOND', {
      default: 50,
      min: 1,
      max: 10_000,
    }),
    enquireLinkMs: env.duration('OTP_SMPP_ENQUIRE_LINK_INTERVAL', { default: 30_000 }),
    submitTimeoutMs: env.duration('OTP_SMPP_SUBMIT_TIMEOUT', { default: 5_000 }),
  };
}

export type SmppConfig = ConfigOf<ReturnType<typeof smppConfigSchema>>;

/** The SMS centre's settings when SMPP is chosen; each problem names its variable. */
function readSmppConfig(environment: Environment, problems: string[]): SmppConfig | undefined {
  try {
    const smpp = loadConfig(environment, smppConfigSchema());
    if (smpp.submitTimeoutMs < 1_000 || smpp.enquireLinkMs < 1_000) {
      problems.push('OTP_SMPP_SUBMIT_TIMEOUT, OTP_SMPP_ENQUIRE_LINK_INTERVAL: must be at least 1s');
      return undefined;
    }
    return smpp;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(
      ...error.problems.map((problem) =>
        problem.endsWith(': is required') ? `${problem} when OTP_SMS_DELIVERY=smpp` : problem,
      ),
    );
    return undefined;
  }
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
  const smpp = delivery === 'smpp' ? readSmppConfig(environment, problems) : undefined;
  if (config && config.signingKeyRefreshMs > KEY_RETIREMENT_MARGIN_MS) {
    problems.push(`OTP_SIGNING_KEY_REFRESH: must be at most ${KEY_RETIREMENT_MARGIN_MS / 60_000}m`);
  }
  if (config && config.signingKeyRotationMs < 3_600_000) {
    problems.push('OTP_SIGNING_KEY_ROTATION: must be at least 1h');
  }
  if (problems.length > 0 || !config) throw new ConfigError(problems);
  return { ...config, smpp };
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
