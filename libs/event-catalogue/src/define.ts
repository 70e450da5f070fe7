import { randomUUID } from 'node:crypto';
import {
  EventDecodeError,
  typeUrlOf,
  type Actor,
  type EventEnvelope,
  type PayloadCodec,
  type SubjectRef,
} from './envelope';

/** The services that publish events; each owns one topic. */
export const PRODUCERS = ['identity', 'otp', 'vaccination-record', 'audit'] as const;
export type Producer = (typeof PRODUCERS)[number];

/** The topic a service publishes its events to. */
export function eventsTopic(producer: Producer): string {
  return `vaxguard.${producer}.events`;
}

/** Every event topic of the platform: what the audit service reads. */
export const ALL_EVENT_TOPICS: readonly string[] = PRODUCERS.map(eventsTopic);

/** One event type: its name, who publishes it (and so its topic), and its payload message. */
export interface EventDefinition<N extends string = string, T = unknown> {
  readonly name: N;
  readonly producer: Producer;
  readonly topic: string;
  readonly payload: PayloadCodec<T>;
  /** The payload's `google.protobuf.Any` type URL, from the generated codec. */
  readonly typeUrl: string;
}

export type PayloadOf<D> = D extends EventDefinition<string, infer T> ? T : never;

export function defineEvent<N extends string, T>(
  name: N,
  producer: Producer,
  payload: PayloadCodec<T>,
): EventDefinition<N, T> {
  return { name, producer, topic: eventsTopic(producer), payload, typeUrl: typeUrlOf(payload) };
}

/** What a producer says about one occurrence of an event. */
export interface EventInput<T> {
  readonly actor: Actor;
  /** Whose data it concerns: also the Kafka key, so one subject's events stay in order. */
  readonly subject: SubjectRef;
  readonly payload: T;
  readonly occurredAt: Date;
  readonly correlationId?: string;
}

/** An event ready for the outbox: its topic, its partition key and its envelope. */
export interface OutgoingEvent {
  readonly topic: string;
  readonly key: string;
  readonly envelope: EventEnvelope;
}

/** Builds the envelope of one event of a declared type. */
export function buildEvent<T>(
  definition: EventDefinition<string, T>,
  input: EventInput<T>,
): OutgoingEvent {
  const eventId = randomUUID();
  return {
    topic: definition.topic,
    key: input.subject.ref || eventId,
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
