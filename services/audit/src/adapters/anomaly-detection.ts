import type { PoolClient } from '@vaxguard/db';
import type { Actor, DecodedEvent } from '@vaxguard/event-catalogue';
import type { AnomalyConfig } from '../domain/anomaly-rules';
import { evaluate } from '../domain/anomaly-rules';
import type { Clock } from '../domain/model';
import { observationOf } from './observations';
import { PgAnomalyWindows } from './pg-anomaly-windows';
import { raiseAlert } from './pg-alerts';

/**
 * The anomaly rules as events are ingested: each event the rules react to is evaluated
 * in the ingestion's own transaction (READ COMMITTED), so its window state, its alerts
 * and their queued responses commit or roll back with the log entry, and a redelivered
 * event is never counted twice.
 */
export class AnomalyDetector {
  constructor(
    private readonly options: {
      readonly config: AnomalyConfig;
      /** The audit service as the actor of the events it publishes. */
      readonly actor: Actor;
      readonly clock: Clock;
    },
  ) {}

  /** Returns how many alerts were raised. */
  async apply(events: readonly DecodedEvent[], tx: PoolClient): Promise<number> {
    const windows = new PgAnomalyWindows(tx);
    let raised = 0;
    for (const event of events) {
      const observation = observationOf(event);
      if (!observation) continue;
      for (const alert of await evaluate(observation, windows, this.options.config)) {
        const context = { actor: this.options.actor, now: this.options.clock() };
        if (await raiseAlert(tx, alert, context)) raised++;
      }
    }
    return raised;
  }
}
