import type { Queryable } from '@vaxguard/db';
import { Gauge, type Registry } from '@vaxguard/metrics';

/**
 * The outbox as an operator watches it: how many rows wait to be published and how
 * long the oldest has waited. Read by one query through the partial index of unsent
 * rows each time `sample` runs (the runtime's periodic sampler), never on a write.
 */
export class OutboxMetrics {
  private readonly backlog: Gauge;
  private readonly oldestAge: Gauge;

  constructor(
    private readonly db: Queryable,
    registry: Registry,
  ) {
    this.backlog = new Gauge({
      name: 'vaxguard_outbox_unsent_events',
      help: 'Outbox rows not yet published to Kafka.',
      registers: [registry],
    });
    this.oldestAge = new Gauge({
      name: 'vaxguard_outbox_oldest_unsent_age_seconds',
      help: 'Seconds since the oldest unpublished outbox row was written; 0 when none waits.',
      registers: [registry],
    });
  }

  async sample(): Promise<void> {
    const { rows } = await this.db.query<{ unsent: string; age: number | null }>(
      `SELECT count(*) AS unsent,
              EXTRACT(EPOCH FROM clock_timestamp() - min(created_at))::float8 AS age
         FROM outbox WHERE sent_at IS NULL`,
    );
    const row = rows[0];
    this.backlog.set(Number(row?.unsent ?? 0));
    this.oldestAge.set(Math.max(0, row?.age ?? 0));
  }
}
