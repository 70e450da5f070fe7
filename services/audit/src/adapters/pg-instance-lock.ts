import { withTransaction, type Pool } from '@vaxguard/db';
import type { InstanceLock } from '../domain/log-keeper';

// The class of the log's two-key advisory locks (pg's two-int4 lock space, apart from
// the anomaly windows' class and the one-bigint locks of the migrator and outbox relay).
const LOG_LOCK_CLASS = 0x746c_6f67; // "tlog"

/** The log's instance locks, by what each guards. */
export const LOG_LOCKS = {
  /** Each change of the kept state (AUDIT_STATE_DIR): read, changed, saved. */
  keptState: 1,
  /** A publication round: keep the newest checkpoint, have it cosigned, check for a stall. */
  publication: 2,
} as const;

/**
 * A transaction-scoped PostgreSQL advisory lock, held while `work` runs: released when the
 * work ends, and by PostgreSQL itself when the holder's connection goes (an instance
 * killed mid-round frees it at once). See InstanceLock for why a lock and not a lease.
 * Outside any call's budget: no caller's deadline cuts the log's own work short.
 */
export class PgInstanceLock implements InstanceLock {
  constructor(
    private readonly pool: Pool,
    private readonly lock: number,
  ) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    return withTransaction(
      this.pool,
      async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOG_LOCK_CLASS, this.lock]);
        return work();
      },
      { callBudget: null },
    );
  }

  tryRun(work: () => Promise<void>): Promise<boolean> {
    return withTransaction(
      this.pool,
      async (tx) => {
        const { rows } = await tx.query<{ taken: boolean }>(
          'SELECT pg_try_advisory_xact_lock($1, $2) AS taken',
          [LOG_LOCK_CLASS, this.lock],
        );
        if (!rows[0]?.taken) return false;
        await work();
        return true;
      },
      { callBudget: null },
    );
  }
}
