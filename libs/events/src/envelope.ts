import { randomUUID } from 'node:crypto';
import { eventsV1, type Any } from '@vaxguard/proto';

export type EventEnvelope = eventsV1.EventEnvelope;
export const { ActorKind, SubjectKind } = eventsV1;
export type Actor = eventsV1.Actor;
export type SubjectRef = eventsV1.SubjectRef;

/** The generated codec of a payload message, with its fully-qualified proto name. */
export interface PayloadType<T> {
  readonly typeName: string;
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/** Builds the PayloadType of a ts-proto message from its codec and proto package. */
export function payloadType<T>(
  protoPackage: string,
  messageName: string,
  codec: { encode(message: T): { finish(): Uint8Array }; decode(bytes: Uint8Array): T },
): PayloadType<T> {
  return {
    typeName: `${protoPackage}.${messageName}`,
    encode: (m) => codec.encode(m),
    decode: (b) => codec.decode(b),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TYPE_URL_PREFIX = 'type.googleapis.com/';

export interface NewEvent<T> {
  readonly type: string;
  readonly producer: string;
  readonly actor: Actor;
  readonly subject: SubjectRef;
  readonly payloadType: PayloadType<T>;
  readonly payload: T;
  readonly occurredAt: Date;
  readonly correlationId?: string;
}

export function createEvent<T>(event: NewEvent<T>): EventEnvelope {
  return {
    eventId: randomUUID(),
    type: event.type,
    occurredAt: event.occurredAt,
    producer: event.producer,
    actor: event.actor,
    subject: event.subject,
    payload: {
      typeUrl: TYPE_URL_PREFIX + event.payloadType.typeName,
      value: Buffer.from(event.payloadType.encode(event.payload).finish()),
    },
    correlationId: event.correlationId ?? '',
  };
}

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

/** Reads the payload of an envelope, checking that it is of the expected type. */
export function readPayload<T>(envelope: EventEnvelope, type: PayloadType<T>): T {
  const payload: Any | undefined = envelope.payload;
  if (!payload || payload.typeUrl !== TYPE_URL_PREFIX + type.typeName) {
    throw new EventDecodeError(
      `event ${envelope.eventId} of type ${envelope.type} does not carry ${type.typeName}`,
    );
  }
  return type.decode(payload.value);
}

export function encodeEnvelope(envelope: EventEnvelope): Buffer {
  return Buffer.from(eventsV1.EventEnvelope.encode(envelope).finish());
}

export function decodeEnvelope(bytes: Uint8Array): EventEnvelope {
  let envelope: EventEnvelope;
  try {
    envelope = eventsV1.EventEnvelope.decode(bytes);
  } catch (error) {
    throw new EventDecodeError('message is not an EventEnvelope', { cause: error });
  }
  if (!UUID.test(envelope.eventId) || !envelope.type) {
    throw new EventDecodeError('envelope has no valid event id or no type');
  }
  return envelope;
}

/** The topic a service publishes its events to. */
export function eventsTopic(producer: string): string {
  return `vaxguard.${producer}.events`;
}
