import type { Queryable } from '@vaxguard/db';
import { Gauge, type Registry } from '@vaxguard/metrics';

/**
 * The audit log as an operator watches it: how many entries it holds, how many its
 * newest checkpoint covers, and how long ago that checkpoint was signed. A checkpoint
 * is signed only when entries were added (log-rules checkpointDue), so an old one
 * alarms only with entries waiting for it (the rule in deploy/prometheus/rules.yml).
 * Sampled by one query on the runtime's beat, never on the append path.
 */
export class LogMetrics {
  private readonly entries: Gauge;
  private readonly checkpointEntries: Gauge;
  private readonly checkpointAge: Gauge;

  constructor(
    private readonly db: Queryable,
    registry: Registry,
  ) {
    this.entries = new Gauge({
      name: 'vaxguard_audit_log_entries',
      help: 'Entries in the audit log (the stored tree size).',
      registers: [registry],
    });
    this.checkpointEntries = new Gauge({
      name: 'vaxguard_audit_log_checkpoint_entries',
      help: 'The tree size of the newest signed checkpoint.',
      registers: [registry],
    });
    this.checkpointAge = new Gauge({
      name: 'vaxguard_audit_log_checkpoint_age_seconds',
      help: 'Seconds since the newest checkpoint was signed.',
      registers: [registry],
    });
  }

  async sample(): Promise<void> {
    const { rows } = await this.db.query<{
      tree_size: string;
      checkpoint_size: string | null;
      checkpoint_age: number | null;
    }>(
      `SELECT h.tree_size, c.tree_size AS checkpoint_size,
              EXTRACT(EPOCH FROM clock_timestamp() - c.created_at)::float8 AS checkpoint_age
         FROM audit_log_head h
         LEFT JOIN LATERAL (SELECT tree_size, created_at FROM audit_checkpoints
                             ORDER BY tree_size DESC LIMIT 1) c ON true`,
    );
    const row = rows[0];
    if (!row) return;
    this.entries.set(Number(row.tree_size));
    this.checkpointEntries.set(Number(row.checkpoint_size ?? 0));
    this.checkpointAge.set(Math.max(0, row.checkpoint_age ?? 0));
  }
}
