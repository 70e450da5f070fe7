import { ConfigError, env, loadConfig, type Environment } from '@vaxguard/config';
import { parseMobile, type Mobile } from '@vaxguard/pii';
import {
  peerConfigSchema,
  readMigrateConfig as readMigrate,
  runtimeConfigSchema,
} from '@vaxguard/runtime';

export const DEFAULT_PORT = 50051;
const SECRET_MIN_BYTES = 32;

/** `kid:base64key`, comma-separated, the current key first: the vault's key-encryption keys. */
function parseKeyEncryptionKeys(raw: string): { id: string; key: Buffer }[] {
  const keys = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id, value] = entry.split(':');
      if (
        !id ||
        !/^[A-Za-z0-9._-]{1,32}$/.test(id) ||
        !value ||
        !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)
      ) {
        throw new Error('each entry must be key-id:base64-key');
      }
      const key = Buffer.from(value, 'base64');
      if (key.length !== 32) throw new Error('each key must decode to exactly 32 bytes (AES-256)');
      return { id, key };
    });
  if (keys.length === 0) throw new Error('must name at least one key');
  if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new Error('key ids must differ');
  return keys;
}

/**
 * `username:mobile:scrypt-PHC-hash`: the first platform admin, created at start when no
 * staff member has that username. The hash comes from `nx run identity:hash-password`.
 */
function parseBootstrapAdmin(raw: string): {
  username: string;
  mobile: Mobile;
  passwordHash: string;
} {
  const [username, mobile, ...rest] = raw.split(':');
  const passwordHash = rest.join(':');
  if (!username || !/^[a-z][a-z0-9._-]{2,31}$/.test(username)) {
    throw new Error(
      'must be username:mobile:scrypt-hash, the username 3-32 characters of a-z 0-9 . _ -',
    );
  }
  if (!passwordHash.startsWith('$scrypt$')) {
    throw new Error('must end in an scrypt PHC hash ($scrypt$ln=...)');
  }
  try {
    return { username, mobile: parseMobile(mobile ?? ''), passwordHash };
  } catch {
    throw new Error('must name a valid Indian mobile number (not shown here)');
  }
}

function identityConfigSchema() {
  return {
    ...runtimeConfigSchema(DEFAULT_PORT),
    ...peerConfigSchema(),
    /** Key of the mobile blind index: the same as the OTP service's, so a citizen token's subject finds its beneficiaries. */
    mobileIndexKey: env.secretKey('MOBILE_INDEX_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** Key of the identity-document blind index (duplicate documents). */
    documentIndexKey: env.secretKey('DOCUMENT_INDEX_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** HMAC key under which 4-digit secret codes are stored. */
    secretCodeKey: env.secretKey('SECRET_CODE_KEY', { minBytes: SECRET_MIN_BYTES }),
    /** The vault's key-encryption keys, current first; older ones still open records until re-wrapped. */
    keyEncryptionKeys: env.custom('IDENTITY_KEY_ENCRYPTION_KEYS', parseKeyEncryptionKeys),
    bootstrapAdmin: env.optional(env.custom('PLATFORM_ADMIN_BOOTSTRAP', parseBootstrapAdmin)),
  };
}

/** The identity service's configuration, read once from the environment; every problem reported together. */
export function readConfig(environment: Environment = process.env) {
  const config = loadConfig(environment, identityConfigSchema());
  const keys = [config.mobileIndexKey, config.documentIndexKey, config.secretCodeKey];
  if (new Set(keys.map((key) => key.toString('base64'))).size !== keys.length) {
    throw new ConfigError([
      'MOBILE_INDEX_KEY, DOCUMENT_INDEX_KEY, SECRET_CODE_KEY: must be three different keys',
    ]);
  }
  return config;
}

export type Config = ReturnType<typeof readConfig>;

/** What `nx run identity:migrate` reads: DATABASE_URL (and LOG_LEVEL), nothing else. */
export function readMigrateConfig(environment: Environment = process.env) {
  return readMigrate(environment);
}

/**
 * What `nx run identity:rotate-keys` reads: DATABASE_URL, LOG_LEVEL and
 * IDENTITY_KEY_ENCRYPTION_KEYS (the new KEK first, the ones it replaces after it).
 */
export function readRotateKeysConfig(environment: Environment = process.env) {
  const { databaseUrl, logLevel, keyEncryptionKeys } = identityConfigSchema();
  return loadConfig(environment, { databaseUrl, logLevel, keyEncryptionKeys });
}
