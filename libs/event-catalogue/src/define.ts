import { ACTOR_KIND, type ActorKindValue } from './enums';
import {
  EventDecodeError,
  typeUrlOf,
  type Actor,
  type EventEnvelope,
  type PayloadCodec,
  type SubjectRef,
} from './envelope';
import { EventIdGenerator } from './event-id';

/** The services that publish events; each owns one topic. */
export const PRODUCERS = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
export type Producer = (typeof PRODUCERS)[number];

/** The topic a service publishes its events to. */
export function eventsTopic(producer: Producer): string {
  return `vaxguard.${producer}.events`;
}

/**
 * The audit service's anomaly alerts and its automatic responses to them, apart from
 * its other events so that a security team can follow alerts alone.
 */
export const SECURITY_ALERTS_TOPIC = 'vaxguard.security.alerts';

/**
 * Every event topic of the platform: each producer's events topic and the security
 * alerts topic. What the audit service reads, so alerts and responses are in its log.
 */
export const ALL_EVENT_TOPICS: readonly string[] = [
  ...PRODUCERS.map(eventsTopic),
  SECURITY_ALERTS_TOPIC,
];

/**
 * Identity's access registry (partners, suspensions, API locks), replicated to every
 * service. Not an event topic: a compacted log of current state, one record per key,
 * that each service reads from the beginning before it serves. Its changes are also
 * audit events on identity's events topic.
 */
export const ACCESS_REGISTRY_TOPIC = 'vaxguard.identity.access-registry';

/** How a topic is created: partitions, and compaction for state topics. */
export interface TopicSpec {
  readonly topic: string;
  readonly numPartitions: number;
  readonly configEntries?: readonly { readonly name: string; readonly value: string }[];
}

export function topicSpec(topic: string): TopicSpec {
  if (topic === ACCESS_REGISTRY_TOPIC) {
    // One partition: a few thousand records at most, read whole by every instance.
    return {
      topic,
      numPartitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'min.compaction.lag.ms', value: '60000' },
      ],
    };
  }
  return { topic, numPartitions: 6 };
}

/** One event type: its name, who publishes it (and so its topic), and its payload message. */
export interface EventDefinition<N extends string = string, T = unknown> {
  readonly name: N;
  readonly producer: Producer;
  readonly topic: string;
  readonly payload: PayloadCodec<T>;
  /** The payload's `google.protobuf.Any` type URL, from the generated codec. */
  readonly typeUrl: string;
  /**
   * Whether its commit wakes the outbox relay at once (a PostgreSQL NOTIFY) rather than
   * waiting for the relay's next poll (a fraction of a second). Only events whose
   * delay weakens a defence are urgent: a NOTIFY makes every commit that sends one take
   * a database-wide lock, which halved identity's read rate when every access event
   * sent one.
   */
  readonly urgent: boolean;
}

export interface EventOptions {
  /** Another topic than the producer's events topic (the access registry). */
  readonly topic?: string;
  /** See EventDefinition.urgent; false unless said. */
  readonly urgent?: boolean;
}

export type PayloadOf<D> = D extends EventDefinition<string, infer T> ? T : never;

export function defineEvent<N extends string, T>(
  name: N,
  producer: Producer,
  payload: PayloadCodec<T>,
  options: EventOptions = {},
): EventDefinition<N, T> {
  return {
    name,
    producer,
    topic: options.topic ?? eventsTopic(producer),
    payload,
    typeUrl: typeUrlOf(payload),
    urgent: options.urgent ?? false,
  };
}

/**
 * An event's actor: who acted, of which kind, and through which client application (for
 * a client or service acting in its own name, its own id, the default). The one way
 * every producer builds one.
 */
export function eventActor(
  kind: ActorKindValue,
  principalId: string,
  clientId = principalId,
): Actor {
  return { kind: ACTOR_KIND.toProto(kind), principalId, clientId };
}

/**
 * The partition key rule (issue 19: topics have several partitions, services several
 * instances). Kafka keeps order only within a partition, and a key always maps to one
 * partition, so an event's key is its subject's ref: every event about one beneficiary
 * (registered, accessed, dose recorded, certificate issued), one mobile's blind index
 * (its OTPs), one staff member or one partner (sign-in failures, suspensions, locks)
 * lands on one partition, in the order the outbox relay publishes it, and is consumed in
 * that order by whichever instance of a consumer group holds that partition. Only the
 * access registry's state records have a key of their own (`EventInput.key`): the record's
 * identity (`partner:<id>`, `principal:<kind>:<id>`, the lock's key), which compaction
 * keeps the last record of, again one key per principal. An event with no subject ref
 * (nobody's data) is keyed by its own id: no order to keep.
 */
export function partitionKeyOf(
  definition: Pick<EventDefinition, 'name' | 'topic'>,
  input: Pick<EventInput<unknown>, 'subject' | 'key'>,
  eventId: string,
): string {
  if (input.key !== undefined) {
    if (definition.topic !== ACCESS_REGISTRY_TOPIC) {
      throw new Error(
        `${definition.name} is keyed by its subject: only the access registry's records take a key of their own`,
      );
    }
    return input.key;
  }
  return input.subject.ref || eventId;
}

/** What a producer says about one occurrence of an event. */
export interface EventInput<T> {
  readonly actor: Actor;
  /** Whose data it concerns: also the Kafka key (`partitionKeyOf`), so one subject's events stay in order. */
  readonly subject: SubjectRef;
  readonly payload: T;
  readonly occurredAt: Date;
  readonly correlationId?: string;
  /**
   * The Kafka key of an access registry record, which compaction keeps the last record
   * of; refused on any other event (`partitionKeyOf`).
   */
  readonly key?: string;
}

/** An event ready for the outbox: its topic, its partition key and its envelope. */
export interface OutgoingEvent {
  readonly topic: string;
  readonly key: string;
  readonly envelope: EventEnvelope;
  /** Whether its commit wakes the outbox relay at once (EventDefinition.urgent). */
  readonly urgent: boolean;
}

/**
 * The process's event ids: UUIDv7, strictly increasing in the process (event-id.ts). One
 * generator for the process, as its counter must see every id made in the same millisecond.
 */
const eventIds = new EventIdGenerator();

/** Builds the envelope of one event of a declared type; its id is a UUIDv7. */
export function buildEvent<T>(
  definition: EventDefinition<string, T>,
  input: EventInput<T>,
): OutgoingEvent {
  const eventId = eventIds.next();
  return {
    topic: definition.topic,
    urgent: definition.urgent,
    key: partitionKeyOf(definition, input, eventId),
    envelope: {
      eventId,
      type: definition.name,
      occurredAt: input.occurredAt,
      producer: definition.producer,
      actor: input.actor,
      subject: input.subject,
      payload: {
        typeUrl: definition.typeUrl,
        value: Buffer.from(definition.payload.encode(input.payload).finish()),
      },
      correlationId: input.correlationId ?? '',
    },
  };
}

/**
 * Reads the payload of an envelope as the given event type, refusing an envelope of
 * another type or whose payload is not the declared message.
 */
export function readPayload<T>(envelope: EventEnvelope, definition: EventDefinition<string, T>): T {
  if (envelope.type !== definition.name || envelope.payload?.typeUrl !== definition.typeUrl) {
    throw new EventDecodeError(
      `event ${envelope.eventId} is not a ${definition.name} carrying ${definition.payload.$type}`,
    );
  }
  try {
    return definition.payload.decode(envelope.payload.value);
  } catch (error) {
    throw new EventDecodeError(`event ${envelope.eventId} has an unreadable payload`, {
      cause: error,
    });
  }
}
