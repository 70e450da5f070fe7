import { ConfigError, env, loadConfig, type Environment } from '@vaxguard/config';
import {
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';
import { parseSignerKey } from '@vaxguard/tlog';
import { compileAnomalyConfig, type AnomalyConfigInput } from './domain/anomaly-rules';
import { DEFAULT_CHECKPOINT_POLICY } from './domain/log-rules';

export const DEFAULT_PORT = 50054;

function auditConfigSchema() {
  return {
    ...runtimeConfigSchema(DEFAULT_PORT),
    ...peerConfigSchema(),
    /**
     * The Ed25519 key that signs checkpoints, in the signed-note form
     * `PRIVATE+KEY+<name>+<key id>+<base64>` (golang.org/x/mod/sumdb/note's
     * GenerateKey, or @vaxguard/tlog's generateSignerKey).
     */
    logSigner: env.custom('AUDIT_LOG_SIGNER_KEY', parseSignerKey),
    /** The log's origin line; by C2SP convention the signer key's name, which is the default. */
    logOrigin: env.optional(env.string('AUDIT_LOG_ORIGIN')),
    checkpointEveryEntries: env.integer('AUDIT_CHECKPOINT_EVERY_ENTRIES', {
      default: DEFAULT_CHECKPOINT_POLICY.everyEntries,
      min: 1,
      max: 1_000_000,
    }),
    checkpointIntervalMs: env.duration('AUDIT_CHECKPOINT_INTERVAL', {
      default: DEFAULT_CHECKPOINT_POLICY.intervalMs,
    }),
    /** Where identity is: the automatic response asks it to suspend principals. */
    identityAddress: env.custom('IDENTITY_GRPC_ADDRESS', parseAddress, {
      default: DEFAULT_IDENTITY_ADDRESS,
    }),
    // The anomaly rules' thresholds; unset means the rules' own defaults.
    staffReadsPerHour: threshold('AUDIT_ANOMALY_STAFF_READS_PER_HOUR'),
    staffReadsPerDay: threshold('AUDIT_ANOMALY_STAFF_READS_PER_DAY'),
    consentRequestsPerHour: threshold('AUDIT_ANOMALY_CONSENT_REQUESTS_PER_HOUR'),
    otpFailuresPer15m: threshold('AUDIT_ANOMALY_OTP_FAILURES_PER_15M'),
    otpQuotaRefusalsPerMinute: threshold('AUDIT_ANOMALY_OTP_QUOTA_REFUSALS_PER_MINUTE'),
    partnerSurgeFactor: env.optional(env.custom('AUDIT_ANOMALY_PARTNER_SURGE_FACTOR', parseFactor)),
    partnerSurgeMinimum: threshold('AUDIT_ANOMALY_PARTNER_SURGE_MINIMUM'),
    deniedReadsPer10m: threshold('AUDIT_ANOMALY_DENIED_READS_PER_10M'),
    offHoursReadsPerHour: threshold('AUDIT_ANOMALY_OFF_HOURS_READS_PER_HOUR'),
    secretCodeFailuresPerHour: threshold('AUDIT_ANOMALY_SECRET_CODE_FAILURES_PER_HOUR'),
    secretCodeLocksPerHour: threshold('AUDIT_ANOMALY_SECRET_CODE_LOCKS_PER_HOUR'),
    staffLoginFailedUsernamesPer10m: threshold(
      'AUDIT_ANOMALY_STAFF_LOGIN_FAILED_USERNAMES_PER_10M',
    ),
    workingHours: env.optional(env.custom('AUDIT_ANOMALY_WORKING_HOURS', parseWorkingHours)),
  };
}

/** Identity's default port on this host, as `npm start` runs it. */
const DEFAULT_IDENTITY_ADDRESS = '127.0.0.1:50051';

function parseAddress(raw: string): string {
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(raw)) throw new Error('must be host:port');
  return raw;
}

function threshold(variable: string) {
  return env.optional(env.integer(variable, { min: 1, max: 1_000_000 }));
}

function parseFactor(raw: string): number {
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(value)) throw new Error('must be a number');
  return value;
}

/** `HH:MM-HH:MM`, India Standard Time; the rules check the times themselves. */
function parseWorkingHours(raw: string): { start: string; end: string } {
  const match = /^(\d\d:\d\d)-(\d\d:\d\d)$/.exec(raw);
  if (!match) throw new Error('must be HH:MM-HH:MM (IST), such as 08:00-20:00');
  return { start: match[1] ?? '', end: match[2] ?? '' };
}

const ANOMALY_KEYS = [
  'staffReadsPerHour',
  'staffReadsPerDay',
  'consentRequestsPerHour',
  'otpFailuresPer15m',
  'otpQuotaRefusalsPerMinute',
  'partnerSurgeFactor',
  'partnerSurgeMinimum',
  'deniedReadsPer10m',
  'offHoursReadsPerHour',
  'secretCodeFailuresPerHour',
  'secretCodeLocksPerHour',
  'staffLoginFailedUsernamesPer10m',
  'workingHours',
] as const satisfies readonly (keyof AnomalyConfigInput)[];

/** The audit service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const { logOrigin, ...loaded } = loadConfig(environment, auditConfigSchema());
  // The thresholds given, compiled once with the rules' defaults (bad ones refused here).
  const anomalyInput: Record<string, unknown> = {};
  for (const key of ANOMALY_KEYS) {
    if (loaded[key] !== undefined) anomalyInput[key] = loaded[key];
  }
  const anomalies = compileAnomalyConfig(anomalyInput);
  const config = { ...omit(loaded, ANOMALY_KEYS), anomalies };
  // Auditors check the origin against the key's name (auditCheckpoint does by default):
  // a log named otherwise would fail every standard verification.
  if (logOrigin !== undefined && logOrigin !== config.logSigner.name) {
    throw new ConfigError([
      `AUDIT_LOG_ORIGIN: must be the signer key's name (${config.logSigner.name})`,
    ]);
  }
  if (config.checkpointIntervalMs < 1) {
    throw new ConfigError(['AUDIT_CHECKPOINT_INTERVAL: must be at least 1ms']);
  }
  return { ...config, logOrigin: config.logSigner.name };
}

export type Config = ReturnType<typeof readConfig>;

function omit<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Omit<T, K> {
  const copy = { ...value };
  for (const key of keys) delete copy[key];
  return copy;
}

/** What `nx run audit:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}
