import { ConfigError, env, loadConfig, type Environment } from '@vaxguard/config';
import {
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';
import { parseSignerKey } from '@vaxguard/tlog';
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
  };
}

/** The audit service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const { logOrigin, ...config } = loadConfig(environment, auditConfigSchema());
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

/** What `nx run audit:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}
