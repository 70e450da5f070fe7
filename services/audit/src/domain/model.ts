import type { NodeHashReader, StoredNode } from '@vaxguard/tlog';

/**
 * Ports of the audit log's domain that adapters implement and tests fake, and the
 * domain's own types. Nothing here knows PostgreSQL, Kafka or gRPC.
 */

/** One platform event as the log records it: the envelope's fields, enums by name. */
export interface AuditedEvent {
  readonly eventId: string;
  readonly type: string;
  readonly occurredAt: Date;
  readonly producer: string;
  readonly actor: {
    readonly kind: string;
    readonly principalId: string;
    readonly clientId: string;
  };
  readonly subject: { readonly kind: string; readonly ref: string };
  /** The payload exactly as the producer encoded it (a `google.protobuf.Any`). */
  readonly payload: { readonly typeUrl: string; readonly value: Uint8Array };
  readonly correlationId: string;
}

/** Where and when the audit service read the event. */
export interface Ingestion {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly ingestedAt: Date;
}

export interface AuditRecord {
  readonly event: AuditedEvent;
  readonly ingestion: Ingestion;
}

/**
 * The columns kept beside each entry's bytes, so later queries (by actor, subject,
 * type, time) need not parse entries; VerifyLog checks them against the bytes.
 */
export interface EntryColumns {
  readonly eventId: string;
  readonly eventType: string;
  readonly producer: string;
  readonly actorKind: string;
  readonly actorId: string;
  readonly subjectKind: string;
  readonly subjectRef: string;
  readonly occurredAt: Date;
  readonly ingestedAt: Date;
}

export interface LogEntry {
  readonly index: number;
  /** The canonical entry bytes (entry-encoding.ts): what the leaf hash is taken of. */
  readonly entry: Uint8Array;
  readonly columns: EntryColumns;
}

/** The stored tree's size and root, as of the last committed append. */
export interface LogHead {
  readonly size: number;
  readonly rootHash: Uint8Array;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The C2SP signed note, as served. */
  readonly signedNote: string;
  readonly createdAt: Date;
}

/**
 * The log as one transaction that holds its head locked: appends and checkpoints run
 * one at a time, whichever instance runs them.
 */
export interface LogTransaction extends NodeHashReader {
  lockHead(): Promise<LogHead>;
  /** Stores entries, the tree nodes they complete, and the new head, together. */
  append(entries: readonly LogEntry[], nodes: readonly StoredNode[], head: LogHead): Promise<void>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
}

/** Runs work in a LogTransaction of its own (the checkpoint timer's). */
export interface LogTransactions {
  inTransaction<T>(work: (tx: LogTransaction) => Promise<T>): Promise<T>;
}

/** What reading and verifying the log needs from storage. */
export interface LogStore extends NodeHashReader {
  head(): Promise<LogHead>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  checkpointOfSize(size: number): Promise<StoredCheckpoint | undefined>;
  /** Checkpoints with from < size <= to, smallest first. */
  checkpointsBetween(from: number, to: number): Promise<StoredCheckpoint[]>;
  /** The stored entries with start <= index < end, by index; missing ones are simply absent. */
  entries(start: number, end: number): Promise<LogEntry[]>;
  /** The stored leaf hashes (level-0 nodes) with start <= index < end, by index. */
  leafHashes(start: number, end: number): Promise<Map<number, Uint8Array>>;
}

/** The staff member a session names; the log's entries are for auditors only. */
export interface StaffReader {
  readonly staffId: string;
  readonly role: string;
}

/** Each filter left empty (or undefined) matches everything. */
export interface EntryFilter {
  readonly actorId: string;
  readonly subjectRef: string;
  readonly eventType: string;
  readonly from: Date | undefined;
  readonly to: Date | undefined;
}

/** What an auditor read, as the `audit.queried` event that records it says. */
export type AuditorRead =
  | { readonly kind: 'QueryEntries'; readonly filter: EntryFilter; readonly returned: number }
  /** Recorded before the first entry is sent, so without a count. */
  | { readonly kind: 'ExportEntries'; readonly filter: EntryFilter }
  /**
   * An export's end, however it came: how many entries went out, and how it ended
   * (`COMPLETED`, `CANCELLED`, or the refusal that cut it, such as `PRINCIPAL_SUSPENDED`).
   */
  | {
      readonly kind: 'ExportEnded';
      readonly filter: EntryFilter;
      readonly returned: number;
      readonly ended: string;
    }
  | {
      readonly kind: 'ListAlerts';
      readonly unacknowledgedOnly: boolean;
      readonly returned: number;
    };

/**
 * Records an auditor's read as an event of the log, before its answer is given: a
 * read that cannot be recorded is not answered.
 */
export interface QueryRecorder {
  recordQuery(auditor: StaffReader, read: AuditorRead): Promise<void>;
}

export type Clock = () => Date;
