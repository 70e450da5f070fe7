import { ConfigError, env, loadConfig, type Environment } from '@vaxguard/config';
import { isLoopbackIssuerUrl, isValidIssuerUrl, ISSUER_URL_RULE } from '@vaxguard/health-cards';
import {
  peerAddress,
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';
import { DEFAULT_STAFF_BENEFICIARIES_PER_HOUR } from './domain/record-rules';

export const DEFAULT_PORT = 50053;
const KEY_BYTES = 32;

/**
 * SMART Health Cards: the issuer is an https URL without a trailing slash. In
 * development, where nothing serves https, a loopback http URL is accepted instead (the
 * health-cards library's one exception), so a verifier on the machine, the official
 * validator included, finds the keys at `iss + '/.well-known/jwks.json'`.
 */
function parseIssuerUrl(raw: string): string {
  if (!isValidIssuerUrl(raw)) throw new Error(`must be ${ISSUER_URL_RULE}`);
  return raw;
}

/** The vaccination-record service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const config = loadConfig(environment, {
    // RecordDose is the path a national peak floods: its admission adapts to latency
    // (grpc-kit admission.ts) and refuses at once what it cannot serve within the target.
    ...runtimeConfigSchema(DEFAULT_PORT, { adaptiveAdmission: true }),
    ...peerConfigSchema(),
    /** The identity service: beneficiaries are read there, with the user's token relayed. */
    identityAddress: peerAddress('IDENTITY_GRPC_ADDRESS'),
    /** The `iss` of the certificates; its `/.well-known/jwks.json` lists the keys. */
    issuerUrl: env.custom('ISSUER_URL', parseIssuerUrl),
    /** When set, the keys and revocation lists are served over HTTP on 127.0.0.1 here. */
    issuerHttpPort: env.optional(env.port('ISSUER_HTTP_PORT')),
    /** Seals the issuer's private keys at rest, and derives the rid secret. */
    issuerKeyEncryptionKey: env.secretKey('ISSUER_KEY_ENCRYPTION_KEY', { minBytes: KEY_BYTES }),
    staffBeneficiariesPerHour: env.integer('STAFF_BENEFICIARIES_PER_HOUR', {
      default: DEFAULT_STAFF_BENEFICIARIES_PER_HOUR,
      min: 1,
      max: 10_000,
    }),
  });
  // A loopback issuer's keys are those this service serves: `iss` + /.well-known/jwks.json
  // must reach its HTTP server, so the URL names the port it listens on.
  if (
    isLoopbackIssuerUrl(config.issuerUrl) &&
    config.issuerHttpPort !== undefined &&
    new URL(config.issuerUrl).port !== String(config.issuerHttpPort)
  ) {
    throw new ConfigError([
      `ISSUER_URL: a loopback issuer must name the port its keys are served on, ISSUER_HTTP_PORT (${config.issuerHttpPort})`,
    ]);
  }
  return config;
}

export type Config = ReturnType<typeof readConfig>;

/**
 * What `nx run vaccination-record:rotate-keys` reads: DATABASE_URL, LOG_LEVEL and
 * ISSUER_KEY_ENCRYPTION_KEY, to seal the new issuer key.
 */
export function readRotateKeysConfig(environment: Environment = process.env) {
  const { databaseUrl, logLevel } = runtimeConfigSchema(DEFAULT_PORT);
  return loadConfig(environment, {
    databaseUrl,
    logLevel,
    issuerKeyEncryptionKey: env.secretKey('ISSUER_KEY_ENCRYPTION_KEY', { minBytes: KEY_BYTES }),
  });
}

/** What `nx run vaccination-record:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}
