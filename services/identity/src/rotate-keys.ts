// Re-wraps every sealed value's data key under the current KEK, while the service runs:
// `npx nx run identity:rotate-keys` (reads DATABASE_URL, LOG_LEVEL, IDENTITY_KEY_ENCRYPTION_KEYS).
// Exits 1 when some records are under a KEK it was not given, or do not open.
import { createPool } from '@vaxguard/db';
import { createLogger } from '@vaxguard/logging';
import { runMain } from '@vaxguard/runtime';
import { ConfigKeyProvider } from './adapters/config-key-provider';
import { rotateKeyEncryptionKeys, rotationComplete } from './adapters/key-rotation';
import { readRotateKeysConfig } from './config';

runMain('identity', async () => {
  const config = readRotateKeysConfig();
  const logger = createLogger({ service: 'identity', level: config.logLevel }).child({
    task: 'rotate-keys',
  });
  const keys = ConfigKeyProvider.fromList(config.keyEncryptionKeys);
  const pool = createPool({
    connectionString: config.databaseUrl,
    applicationName: 'identity-rotate-keys',
    max: 1,
    logger,
  });
  try {
    const started = performance.now();
    const report = await rotateKeyEncryptionKeys({ pool, keys, logger });
    const summary = { ...report, durationMs: Math.round(performance.now() - started) };
    if (rotationComplete(report)) {
      logger.info('key rotation complete', summary);
    } else {
      logger.error('key rotation left records it cannot re-wrap', summary);
      process.exitCode = 1;
    }
  } finally {
    await pool.end();
  }
});
