import type { Kafka } from 'kafkajs';
import type { Pool, PoolClient } from '@vaxguard/db';
import { EVENTS, type Actor, type DecodedEvent } from '@vaxguard/event-catalogue';
import { IdempotentConsumer, type ConsumerLagMonitor } from '@vaxguard/events';
import type { Logger } from '@vaxguard/logging';
import type { AnomalyConfig } from '../domain/anomaly-rules';
import { evaluate, isStale } from '../domain/anomaly-rules';
import type { Clock } from '../domain/model';
import { observationOf } from './observations';
import { PgAnomalyWindows } from './pg-anomaly-windows';
import { raiseAlert } from './pg-alerts';

/** The consumer group the rules read events in (and its name in processed_events). */
export const ANOMALY_CONSUMER_GROUP = 'audit-anomalies';

/** The topics of the events the rules observe (see observationOf). */
export const OBSERVED_TOPICS: readonly string[] = [
  ...new Set(
    [
      EVENTS.accessGranted,
      EVENTS.accessDenied,
      EVENTS.accessCanary,
      EVENTS.consentRequested,
      EVENTS.recordAccessed,
      EVENTS.recordAccessDenied,
      EVENTS.otpRequested,
      EVENTS.otpFailed,
    ].map((definition) => definition.topic),
  ),
];

/**
 * The anomaly rules as events arrive: each event the rules react to is evaluated in
 * its batch's transaction (READ COMMITTED), which also records the event id, so its
 * window state, its alerts and their queued responses commit or roll back together and
 * a redelivered event is never counted twice.
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
      if (!observation || isStale(observation.occurredAt, this.options.clock())) continue;
      for (const alert of await evaluate(observation, windows, this.options.config)) {
        const context = { actor: this.options.actor, now: this.options.clock() };
        if (await raiseAlert(tx, alert, context)) raised++;
      }
    }
    return raised;
  }
}

/**
 * Reads the observed topics in a consumer group of its own, beside the log's: the rules
 * cost a few statements per event, which in the log's transaction (under its head
 * lock) would cut the log's append rate to a few hundred events a second. One
 * partition's batch at a time, so one instance never takes window locks in two orders.
 */
export function startAnomalyDetection(options: {
  readonly kafka: Kafka;
  readonly pool: Pool;
  readonly detector: AnomalyDetector;
  readonly logger: Logger;
  /** Where the group's lag is watched (the runtime's consumerLag). */
  readonly lag?: ConsumerLagMonitor;
}): Promise<IdempotentConsumer> {
  return IdempotentConsumer.startBatched({
    kafka: options.kafka,
    pool: options.pool,
    groupId: ANOMALY_CONSUMER_GROUP,
    ...(options.lag ? { lag: options.lag } : {}),
    topics: OBSERVED_TOPICS,
    logger: options.logger,
    partitionsConsumedConcurrently: 1,
    handleBatch: async (events, tx) => {
      await options.detector.apply(
        events.map(({ event }) => event),
        tx,
      );
    },
  });
}
