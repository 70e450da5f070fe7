import { ConfigError } from '@vaxguard/config';
import { createPool, migrate, type Migration } from '@vaxguard/db';
import { createLogger, type LogLevel } from '@vaxguard/logging';
import type { ServiceRuntime } from './runtime';

/**
 * Runs a service's main function and turns a failed start into a clear exit: a
 * configuration error lists every bad variable; anything else is logged (redacted)
 * and the process exits non-zero.
 */
export function runMain(service: string, main: () => Promise<void>): void {
  // Through a promise, so that a synchronous throw (a bad configuration read before
  // the first await) takes the same path.
  Promise.resolve()
    .then(main)
    .catch((error: unknown) => {
      if (error instanceof ConfigError) {
        process.stderr.write(`${service}: ${error.message}\n`);
      } else {
        createLogger({ service }).error('start-up failed', { err: error });
      }
      process.exit(1);
    });
}

/**
 * The body of every service's main.ts: builds the app from its configuration (its
 * app.ts), serves, and drains on SIGINT/SIGTERM.
 */
export function runService(
  service: string,
  createApp: () => Promise<{ readonly runtime: ServiceRuntime }>,
): void {
  runMain(service, async () => {
    const { runtime } = await createApp();
    runtime.stopOnSignals();
    await runtime.start();
  });
}

/** Applies a service's migrations and returns: the body of every `migrate` Nx target. */
export async function migrateOnce(options: {
  readonly service: string;
  readonly databaseUrl: string;
  readonly logLevel: LogLevel;
  readonly migrations: readonly Migration[];
}): Promise<void> {
  const logger = createLogger({ service: options.service, level: options.logLevel });
  const pool = createPool({
    connectionString: options.databaseUrl,
    applicationName: `${options.service}-migrate`,
    logger,
  });
  try {
    const applied = await migrate(pool, options.migrations, logger);
    logger.info('schema up to date', { applied: applied.length });
  } finally {
    await pool.end();
  }
}
