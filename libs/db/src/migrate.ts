import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '@vaxguard/logging';
import { withTransaction } from './pool';

export interface Migration {
  /** Unique and ordered within its list, such as `otp/0001_transactions`. */
  readonly id: string;
  readonly sql: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

// One lock for all migrators of a database, so instances starting together take turns.
const MIGRATION_LOCK = 0x7661_7867; // "vaxg"

/**
 * Applies the migrations not yet applied, each in its own transaction, in list order.
 * A migration already applied whose text has since changed stops the start-up: a
 * schema must only move forward through new migrations.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[],
  logger: Logger,
): Promise<string[]> {
  const ids = new Set<string>();
  for (const migration of migrations) {
    if (ids.has(migration.id)) throw new MigrationError(`duplicate migration id ${migration.id}`);
    ids.add(migration.id);
  }
  const lock = await pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await lock.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
    COMMENT ON TABLE schema_migrations IS
      'retention: a row per live thing, each migration applied; it grows only with the code.'`);
    const { rows } = await lock.query<{ id: string; checksum: string }>(
      'SELECT id, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((row) => [row.id, row.checksum]));
    const appliedNow: string[] = [];
    for (const migration of migrations) {
      const checksum = createHash('sha256').update(migration.sql).digest('hex');
      const previous = applied.get(migration.id);
      if (previous !== undefined) {
        if (previous !== checksum) {
          throw new MigrationError(
            `migration ${migration.id} was changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await withTransaction(pool, async (client) => {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (id, checksum) VALUES ($1, $2)', [
          migration.id,
          checksum,
        ]);
      });
      logger.info('migration applied', { migration: migration.id });
      appliedNow.push(migration.id);
    }
    return appliedNow;
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    lock.release();
  }
}
