import { randomInt } from 'node:crypto';
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
  /**
   * Transaction-scoped advisory locks (by name, hashed to a 64-bit key) taken in this
   * order with the BEGIN itself, in one round trip, before the work runs. Every
   * transaction that takes several of the same locks must take them in the same order.
   */
  readonly advisoryLocks?: readonly string[];
  /** Runs after the work and before COMMIT (to flush deferred writes, say). */
  readonly beforeCommit?: (client: pg.PoolClient) => Promise<void>;
}

/** `BEGIN` and the advisory locks as one simple query (its statements run in order). */
function beginStatement(client: pg.PoolClient, options: TransactionOptions): string {
  const begin = `BEGIN ISOLATION LEVEL ${options.isolation ?? 'READ COMMITTED'}`;
  const locks = options.advisoryLocks ?? [];
  if (locks.length === 0) return begin;
  // One lock per statement: each waits for its lock before the next asks.
  const taken = locks.map(
    (name) => `SELECT pg_advisory_xact_lock(hashtextextended(${client.escapeLiteral(name)}, 0))`,
  );
  return [begin, ...taken].join(';\n');
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
    let retry = false;
    try {
      await client.query(beginStatement(client, options));
      const result = await work(client);
      await options.beforeCommit?.(client);
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
        retry = true;
      } else {
        throw error;
      }
    } finally {
      client.release(broken);
    }
    // A short random pause, doubling each time and holding no connection, so the
    // transactions that collided do not meet again at once.
    if (retry) await new Promise((resolve) => setTimeout(resolve, randomInt(5, 20) * 2 ** attempt));
  }
}
