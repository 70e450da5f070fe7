import type { AuditRecord, EntryColumns } from './model';

/**
 * The canonical bytes of a log entry: the event envelope and its ingestion as one JSON
 * object, serialised per RFC 8785 (JSON Canonicalization Scheme) and encoded as UTF-8.
 * Any JCS library rebuilds the same bytes from the same fields, so an auditor outside
 * the platform can recompute a leaf hash, SHA-256(0x00 || entry), without our code.
 *
 *   {"actor":{"clientId":S,"kind":S,"principalId":S},"correlationId":S,"eventId":S,
 *    "format":"vaxguard.audit.entry.v1",
 *    "ingestion":{"ingestedAt":T,"offset":S,"partition":N,"topic":S},
 *    "occurredAt":T,"payload":{"typeUrl":S,"value":B},"producer":S,
 *    "subject":{"kind":S,"ref":S},"type":S}
 *
 * S is a string, N a non-negative integer, T an RFC 3339 UTC time with milliseconds
 * (`2026-12-01T07:17:20.123Z`), B the payload's bytes in standard base64 with padding.
 * Enum values are their proto names (`ACTOR_KIND_STAFF`). Keys are in JCS order (by
 * UTF-16 code units), no whitespace, strings escaped as JSON.stringify does.
 */
export const ENTRY_FORMAT = 'vaxguard.audit.entry.v1';

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** RFC 8785 serialisation for the values entries hold (strings, safe integers, objects). */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError('entries hold only safe integers');
    return String(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly Json[]).map(canonicalJson).join(',')}]`;
  const object = value as { readonly [key: string]: Json };
  // JCS sorts keys by UTF-16 code units: what Array.prototype.sort does to strings.
  const keys = Object.keys(object).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key] as Json)}`).join(',')}}`;
}

/** The entry as the JSON object the format describes, for canonicalJson. */
export function entryObject(record: AuditRecord): Json {
  const { event, ingestion } = record;
  return {
    format: ENTRY_FORMAT,
    eventId: event.eventId,
    type: event.type,
    occurredAt: event.occurredAt.toISOString(),
    producer: event.producer,
    actor: {
      kind: event.actor.kind,
      principalId: event.actor.principalId,
      clientId: event.actor.clientId,
    },
    subject: { kind: event.subject.kind, ref: event.subject.ref },
    payload: {
      typeUrl: event.payload.typeUrl,
      value: Buffer.from(event.payload.value).toString('base64'),
    },
    correlationId: event.correlationId,
    ingestion: {
      topic: ingestion.topic,
      partition: ingestion.partition,
      offset: ingestion.offset,
      ingestedAt: ingestion.ingestedAt.toISOString(),
    },
  };
}

const str = JSON.stringify;

/**
 * canonicalJson(entryObject(record)), written out with its keys already in JCS order:
 * the same bytes (a unit test holds them equal), a third of the time per event.
 */
export function encodeEntry(record: AuditRecord): Uint8Array {
  const { event, ingestion: ing } = record;
  const { actor, subject, payload } = event;
  if (!Number.isSafeInteger(ing.partition)) throw new RangeError('entries hold only safe integers');
  const value = Buffer.from(
    payload.value.buffer,
    payload.value.byteOffset,
    payload.value.byteLength,
  );
  return Buffer.from(
    `{"actor":{"clientId":${str(actor.clientId)},"kind":${str(actor.kind)},"principalId":${str(actor.principalId)}},` +
      `"correlationId":${str(event.correlationId)},"eventId":${str(event.eventId)},` +
      `"format":"${ENTRY_FORMAT}",` +
      `"ingestion":{"ingestedAt":"${ing.ingestedAt.toISOString()}","offset":${str(ing.offset)},` +
      `"partition":${ing.partition},"topic":${str(ing.topic)}},` +
      `"occurredAt":"${event.occurredAt.toISOString()}",` +
      `"payload":{"typeUrl":${str(payload.typeUrl)},"value":"${value.toString('base64')}"},` +
      `"producer":${str(event.producer)},` +
      `"subject":{"kind":${str(subject.kind)},"ref":${str(subject.ref)}},` +
      `"type":${str(event.type)}}`,
    'utf8',
  );
}

/** Entry bytes that are not the canonical encoding of a record. */
export class EntryFormatError extends Error {
  override readonly name = 'EntryFormatError';
}

/**
 * Reads entry bytes back into the record, refusing any bytes that are not exactly its
 * canonical encoding (so one record has one encoding, and one leaf hash).
 */
export function decodeEntry(bytes: Uint8Array): AuditRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new EntryFormatError('entry is not JSON');
  }
  const record = recordOf(parsed);
  if (!Buffer.from(encodeEntry(record)).equals(Buffer.from(bytes))) {
    throw new EntryFormatError('entry is not in canonical form');
  }
  return record;
}

/** The query columns of a record, as stored beside its entry. */
export function columnsOf(record: AuditRecord): EntryColumns {
  const { event, ingestion } = record;
  return {
    eventId: event.eventId,
    eventType: event.type,
    producer: event.producer,
    actorKind: event.actor.kind,
    actorId: event.actor.principalId,
    subjectKind: event.subject.kind,
    subjectRef: event.subject.ref,
    occurredAt: event.occurredAt,
    ingestedAt: ingestion.ingestedAt,
  };
}

/** Whether stored columns say what the entry says. */
export function columnsMatch(stored: EntryColumns, fromEntry: EntryColumns): boolean {
  return (Object.keys(fromEntry) as (keyof EntryColumns)[]).every((key) => {
    const a = stored[key];
    const b = fromEntry[key];
    return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
  });
}

function recordOf(value: unknown): AuditRecord {
  const root = objectOf(value, 'entry');
  if (root['format'] !== ENTRY_FORMAT)
    throw new EntryFormatError(`entry format is not ${ENTRY_FORMAT}`);
  const actor = objectOf(root['actor'], 'actor');
  const subject = objectOf(root['subject'], 'subject');
  const payload = objectOf(root['payload'], 'payload');
  const ingestion = objectOf(root['ingestion'], 'ingestion');
  const partition = ingestion['partition'];
  if (!Number.isSafeInteger(partition) || (partition as number) < 0) {
    throw new EntryFormatError('ingestion.partition is not a partition number');
  }
  return {
    event: {
      eventId: stringOf(root, 'eventId'),
      type: stringOf(root, 'type'),
      occurredAt: timeOf(root, 'occurredAt'),
      producer: stringOf(root, 'producer'),
      actor: {
        kind: stringOf(actor, 'kind'),
        principalId: stringOf(actor, 'principalId'),
        clientId: stringOf(actor, 'clientId'),
      },
      subject: { kind: stringOf(subject, 'kind'), ref: stringOf(subject, 'ref') },
      payload: {
        typeUrl: stringOf(payload, 'typeUrl'),
        value: Buffer.from(stringOf(payload, 'value'), 'base64'),
      },
      correlationId: stringOf(root, 'correlationId'),
    },
    ingestion: {
      topic: stringOf(ingestion, 'topic'),
      partition: partition as number,
      offset: stringOf(ingestion, 'offset'),
      ingestedAt: timeOf(ingestion, 'ingestedAt'),
    },
  };
}

function objectOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EntryFormatError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function stringOf(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== 'string') throw new EntryFormatError(`${key} is not a string`);
  return value;
}

function timeOf(object: Record<string, unknown>, key: string): Date {
  const text = stringOf(object, key);
  const time = new Date(text);
  if (Number.isNaN(time.getTime()) || time.toISOString() !== text) {
    throw new EntryFormatError(`${key} is not an RFC 3339 UTC time with milliseconds`);
  }
  return time;
}
