import type { Queryable } from '@vaxguard/db';
import type { Logger } from '@vaxguard/logging';

export interface ProcessedEventsPrunerOptions {
  readonly pool: Queryable;
  /** The consumer whose records are pruned (its group id in processed_events). */
  readonly consumer: string;
  /** Records older than this are deleted. */
  readonly retentionMs: number;
  /** Pause between two passes. */
  readonly intervalMs: number;
  /** Rows deleted per statement. */
  readonly batchSize: number;
  readonly logger: Logger;
}

/**
 * Deletes one consumer's processed_events rows older than its retention: a pass at start
 * and then every interval, each pass in statements of at most `batchSize` rows so no
 * statement holds many row locks or a long transaction. It runs beside the consumer on
 * the pool, never inside a batch's transaction; a failed pass is logged and the next one
 * tries again.
 */
export class ProcessedEventsPruner {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: ProcessedEventsPrunerOptions) {}

  start(): void {
    this.schedule(0);
  }

  /** Stops the timer and waits for a pass under way to finish its current statement. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** Deletes, a batch at a time, every record past the retention; returns how many. */
  async prune(): Promise<number> {
    const { pool, consumer, retentionMs, batchSize } = this.options;
    let removed = 0;
    while (!this.stopped) {
      // By (consumer, processed_at), the index of events/0004; oldest first.
      const { rowCount } = await pool.query(
        `DELETE FROM processed_events
          WHERE consumer = $1 AND event_id IN (
            SELECT event_id FROM processed_events
             WHERE consumer = $1 AND processed_at < now() - make_interval(secs => $2)
             ORDER BY processed_at LIMIT $3)`,
        [consumer, retentionMs / 1000, batchSize],
      );
      removed += rowCount ?? 0;
      if ((rowCount ?? 0) < batchSize) break;
    }
    return removed;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.prune()
        .then((removed) => {
          if (removed > 0) {
            this.options.logger.info('processed events pruned', {
              removed,
              retentionMs: this.options.retentionMs,
            });
          }
        })
        .catch((error: unknown) =>
          this.options.logger.warn('processed events prune failed; trying again later', {
            err: error,
          }),
        )
        .finally(() => {
          this.pass = undefined;
          this.schedule(this.options.intervalMs);
        });
    }, delayMs);
    // A pending pass never keeps the process alive.
    this.timer.unref();
  }
}
