// How the console shows a log entry: its canonical JSON (vaxguard.audit.entry.v1, see
// services/audit's entry-encoding.ts) read into the fields an auditor filters by, and its
// payload decoded through the event catalogue. Pure.
import { definitionOf } from '@vaxguard/event-catalogue';

export interface EntryView {
  readonly index: number;
  readonly eventId: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly producer: string;
  readonly actorKind: string;
  readonly actorId: string;
  readonly clientId: string;
  readonly subjectKind: string;
  readonly subjectRef: string;
  /** The payload as JSON text, when the catalogue knows the type; else undefined. */
  readonly payload: string | undefined;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};

/** Reads an entry's canonical bytes; a field it lacks is shown empty, never guessed. */
export function viewEntry(index: number, bytes: Uint8Array): EntryView {
  let entry: Record<string, unknown> = {};
  try {
    entry = record(JSON.parse(new TextDecoder().decode(bytes)));
  } catch {
    // Not JSON: shown as an entry with no fields; its proof is checked all the same.
  }
  const actor = record(entry.actor);
  const subject = record(entry.subject);
  const type = text(entry.type);
  return {
    index,
    eventId: text(entry.eventId),
    type,
    occurredAt: text(entry.occurredAt),
    producer: text(entry.producer),
    actorKind: text(actor.kind),
    actorId: text(actor.principalId),
    clientId: text(actor.clientId),
    subjectKind: text(subject.kind),
    subjectRef: text(subject.ref),
    payload: payloadJson(type, record(entry.payload)),
  };
}

function payloadJson(type: string, payload: Record<string, unknown>): string | undefined {
  const definition = definitionOf(type);
  const value = text(payload.value);
  if (!definition || text(payload.typeUrl) !== definition.typeUrl) return undefined;
  try {
    const message = definition.payload.decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
    const codec = definition.payload as { toJSON?: (message: unknown) => unknown };
    return JSON.stringify(codec.toJSON ? codec.toJSON(message) : message, null, 2);
  } catch {
    return undefined;
  }
}
