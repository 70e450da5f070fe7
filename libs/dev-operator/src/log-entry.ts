// An audit log entry as a client outside the audit service reads it: the canonical JSON
// of format vaxguard.audit.entry.v1 (the event envelope's fields at the top level, its
// payload's protobuf bytes in base64, and how the log ingested it). The command line,
// the leak replay and the e2e suite read entries through this one parser.
import type { auditV1 } from '@vaxguard/proto';

export interface ParsedLogEntry {
  readonly index: number;
  readonly eventId: string;
  readonly type: string;
  readonly producer: string;
  readonly occurredAt: string;
  readonly actor: {
    readonly kind: string;
    readonly principalId: string;
    readonly clientId: string;
  };
  readonly subject: { readonly kind: string; readonly ref: string };
  /** The payload's type URL and its protobuf bytes, for the event's own codec. */
  readonly payload: { readonly typeUrl: string; readonly value: Buffer };
}

export function parseLogEntry(entry: auditV1.LogEntry): ParsedLogEntry {
  const json = JSON.parse(Buffer.from(entry.entry).toString('utf8')) as Omit<
    ParsedLogEntry,
    'index' | 'payload'
  > & { payload: { typeUrl: string; value: string } };
  return {
    index: Number(entry.index),
    eventId: json.eventId,
    type: json.type,
    producer: json.producer,
    occurredAt: json.occurredAt,
    actor: json.actor,
    subject: json.subject,
    payload: { typeUrl: json.payload.typeUrl, value: Buffer.from(json.payload.value, 'base64') },
  };
}
