// Rotates the certificate issuer's signing key while the service runs:
// `npx nx run vaccination-record:rotate-keys` (reads DATABASE_URL, LOG_LEVEL and
// ISSUER_KEY_ENCRYPTION_KEY). New certificates are signed with the new key at once (every
// instance reads the current key from the database); the earlier keys stay published, so
// the certificates they signed keep verifying.
import { createPool } from '@vaxguard/db';
import { createLogger } from '@vaxguard/logging';
import { runMain } from '@vaxguard/runtime';
import { Sealer } from '@vaxguard/sealing';
import { ISSUER_KEY_CONTEXT, PgIssuerKeyring } from './adapters/pg-issuer-keyring';
import { readRotateKeysConfig } from './config';

runMain('vaccination-record', async () => {
  const config = readRotateKeysConfig();
  const logger = createLogger({ service: 'vaccination-record', level: config.logLevel }).child({
    task: 'rotate-keys',
  });
  const pool = createPool({
    connectionString: config.databaseUrl,
    applicationName: 'vaccination-record-rotate-keys',
    max: 1,
    logger,
  });
  try {
    const keys = new PgIssuerKeyring(
      pool,
      new Sealer(config.issuerKeyEncryptionKey, ISSUER_KEY_CONTEXT),
      () => new Date(),
    );
    const kid = await keys.rotate();
    logger.info('issuer key rotated; earlier keys stay published', { kid });
  } finally {
    await pool.end();
  }
});
