import pg from 'pg';
import type { Logger } from '@vaxguard/logging';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolOptions {
  readonly connectionString: string;
  readonly applicationName: string;
  readonly max?: number;
  readonly logger: Logger;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    application_name: options.applicationName,
    max: options.max ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the pool
  // replaces it on the next checkout.
  pool.on('error', (error) => options.logger.warn('idle database client failed', { err: error }));
  return pool;
}

const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export interface TransactionOptions {
  readonly isolation?: 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
  /** Retries on serialization failure or deadlock; the work must be safe to redo. */
  readonly retries?: number;
}

/**
 * Runs `work` in one transaction: commits when it resolves, rolls back when it throws.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${options.isolation ?? 'READ COMMITTED'}`);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      const sqlstate = (error as { code?: unknown }).code;
      if (
        attempt < (options.retries ?? 0) &&
        typeof sqlstate === 'string' &&
        RETRYABLE_SQLSTATES.has(sqlstate)
      ) {
        continue;
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }
}
