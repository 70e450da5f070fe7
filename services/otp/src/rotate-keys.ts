// Rotates the token signing key while the service runs: `npx nx run otp:rotate-keys`
// (reads DATABASE_URL, LOG_LEVEL and OTP_KEY_ENCRYPTION_KEY). The new key is published
// at once (GetSigningKeys reads the database) and every instance signs with it from its
// next key refresh (OTP_SIGNING_KEY_REFRESH); the earlier key stays published until the
// tokens it signed have expired, as after a rotation by age.
import { createPool } from '@vaxguard/db';
import { createLogger } from '@vaxguard/logging';
import { runMain } from '@vaxguard/runtime';
import { Sealer } from '@vaxguard/sealing';
import { SIGNING_KEY_SEAL_CONTEXT, SigningKeys } from './adapters/signing-keys';
import { readRotateKeysConfig } from './config';

runMain('otp', async () => {
  const config = readRotateKeysConfig();
  const logger = createLogger({ service: 'otp', level: config.logLevel }).child({
    task: 'rotate-keys',
  });
  const pool = createPool({
    connectionString: config.databaseUrl,
    applicationName: 'otp-rotate-keys',
    max: 1,
    logger,
  });
  try {
    const keys = new SigningKeys({
      pool,
      sealer: new Sealer(config.keyEncryptionKey, SIGNING_KEY_SEAL_CONTEXT),
      clock: () => new Date(),
      // Unused by an operator's rotation, which happens whatever the key's age.
      rotationMs: Number.POSITIVE_INFINITY,
      logger,
    });
    await keys.rotateNow();
  } finally {
    await pool.end();
  }
});
