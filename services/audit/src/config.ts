import { ConfigError, env, loadConfig, type Environment } from '@vaxguard/config';
import {
  peerAddress,
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';
import { parseCosignatureVerifierKey, parseSignerKey } from '@vaxguard/tlog';
import { compileAnomalyConfig, type AnomalyConfigInput } from './domain/anomaly-rules';
import { DEFAULT_CHECKPOINT_POLICY, NOT_COSIGNED_ALERT_AFTER_MS } from './domain/log-rules';
import type { WitnessConfig } from './domain/log-keeper';

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
    /**
     * A directory outside the database where the log keeps the last checkpoint it
     * signed (and the last one its witnesses cosigned): before signing a tree it checks
     * that the tree extends it, so a rollback written into PostgreSQL is never signed.
     * Required: without it the log could not tell its own history from an edited one.
     */
    stateDir: env.string('AUDIT_STATE_DIR'),
    /**
     * The witnesses that cosign checkpoints (c2sp.org/tlog-witness), comma-separated
     * `name|url|vkey` (the url the witness's add-checkpoint endpoint is under, the vkey
     * its cosignature verifier key), or `none`: then the log publishes its own signed
     * checkpoints uncosigned (an explicit choice, for unit tests and benchmarks).
     */
    witnesses: env.custom('AUDIT_WITNESSES', parseWitnesses),
    /** An alert fires once when no checkpoint has been cosigned for this long. */
    notCosignedAlertAfterMs: env.duration('AUDIT_NOT_COSIGNED_ALERT_AFTER', {
      default: NOT_COSIGNED_ALERT_AFTER_MS,
    }),
    /**
     * The operator's way out of a halt: `<size>:<base64 root>` of the stored tree the
     * operator accepts as the log's own. Read at start-up only, and acted on only when
     * the log is halted and the stored head is exactly that tree.
     */
    acceptRollback: env.optional(env.custom('AUDIT_ACCEPT_ROLLBACK', parseTreeHead)),
    /**
     * A restored log's first start: a file holding the checkpoint the log served when its
     * backup began (`audit-checkpoint.note` in a `vaxguard backup` folder). Taken only
     * while AUDIT_STATE_DIR holds no state, and only when the log's key signed it.
     */
    restoredCheckpoint: env.optional(env.string('AUDIT_RESTORED_CHECKPOINT')),
    /**
     * When set, the log is served as c2sp.org/tlog-tiles over HTTP on 127.0.0.1 here:
     * /checkpoint, /tile/<L>/<N>[.p/<W>] and /tile/entries/<N>[.p/<W>].
     */
    tilesHttpPort: env.optional(env.port('AUDIT_TILES_HTTP_PORT')),
    /** Where identity is: the automatic response asks it to suspend principals. */
    identityAddress: peerAddress('IDENTITY_GRPC_ADDRESS', {
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
    partnerUnregisteredConsentsPer10m: threshold(
      'AUDIT_ANOMALY_PARTNER_UNREGISTERED_CONSENTS_PER_10M',
    ),
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

/** `none`, or `name|url|vkey` entries separated by commas. */
function parseWitnesses(raw: string): readonly WitnessConfig[] {
  if (raw === 'none') return [];
  const witnesses = raw.split(',').map((entry) => {
    const [name = '', url = '', verifierKey = '', ...rest] = entry.trim().split('|');
    if (rest.length > 0 || !name || !/^https?:\/\/[^\s|]+$/.test(url)) {
      throw new Error('must be none, or comma-separated name|url|vkey (url http:// or https://)');
    }
    try {
      parseCosignatureVerifierKey(verifierKey);
    } catch {
      throw new Error(`the witness ${name}'s vkey is not a cosignature/v1 verifier key`);
    }
    return { name, url, verifierKey };
  });
  if (new Set(witnesses.map((w) => w.name)).size !== witnesses.length) {
    throw new Error('each witness must have a name of its own');
  }
  return witnesses;
}

/** `<size>:<base64 root hash>`. */
function parseTreeHead(raw: string): { size: number; rootHash: Uint8Array } {
  const match = /^(0|[1-9]\d*):([A-Za-z0-9+/]{43}=)$/.exec(raw);
  const size = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(size)) {
    throw new Error('must be <tree size>:<base64 root hash>, as GetCheckpoint shows them');
  }
  return { size, rootHash: Buffer.from(match[2] ?? '', 'base64') };
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
  'partnerUnregisteredConsentsPer10m',
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
