import { eventsV1 } from '@vaxguard/proto';

/**
 * The wire form every event travels in (vaxguard.events.v1.EventEnvelope) and its
 * codec. Payload type URLs come from the generated codecs' `$type`, never from a
 * string typed by hand.
 */
export type EventEnvelope = eventsV1.EventEnvelope;
export const { ActorKind, SubjectKind } = eventsV1;
export type Actor = eventsV1.Actor;
export type SubjectRef = eventsV1.SubjectRef;

/** A ts-proto message codec, which names its proto type in `$type`. */
export interface PayloadCodec<T> {
  readonly $type: string;
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** The `google.protobuf.Any` type URL of a payload codec. */
export function typeUrlOf(codec: { readonly $type: string }): string {
  return TYPE_URL_PREFIX + codec.$type;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bytes that cannot be read as the event they claim to be. */
export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

export function encodeEnvelope(envelope: EventEnvelope): Buffer {
  return Buffer.from(eventsV1.EventEnvelope.encode(envelope).finish());
}

/** Decodes an envelope, refusing bytes that are not one or that carry no valid id and type. */
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
