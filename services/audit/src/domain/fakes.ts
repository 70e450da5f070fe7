import { emptyRoot, type NodeId, type StoredNode } from '@vaxguard/tlog';
import type { Alert } from './anomaly-model';
import type { KeptState, KeptStateStore, LogAlarm } from './log-keeper';
import type {
  AuditRecord,
  LogEntry,
  LogHead,
  LogStore,
  LogTransaction,
  StoredCheckpoint,
} from './model';

/**
 * The log's storage in memory, for unit tests: one object is both the store and its
 * transaction (tests run appends one at a time). Tests tamper with `entries` directly.
 */
export class MemoryLog implements LogStore, LogTransaction {
  readonly entriesByIndex = new Map<number, LogEntry>();
  readonly nodes = new Map<string, Uint8Array>();
  readonly checkpoints: StoredCheckpoint[] = [];
  current: LogHead = { size: 0, rootHash: emptyRoot() };
  nodeReads = 0;

  async lockHead(): Promise<LogHead> {
    return this.current;
  }

  async head(): Promise<LogHead> {
    return this.current;
  }

  async append(
    entries: readonly LogEntry[],
    nodes: readonly StoredNode[],
    head: LogHead,
  ): Promise<void> {
    for (const entry of entries) this.entriesByIndex.set(entry.index, entry);
    for (const node of nodes) this.nodes.set(`${node.level}/${node.index}`, node.hash);
    this.current = head;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.checkpoints.at(-1);
  }

  async saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    this.checkpoints.push(checkpoint);
  }

  async checkpointOfSize(size: number): Promise<StoredCheckpoint | undefined> {
    return this.checkpoints.find((checkpoint) => checkpoint.size === size);
  }

  async checkpointsBetween(from: number, to: number): Promise<StoredCheckpoint[]> {
    return this.checkpoints.filter(({ size }) => size > from && size <= to);
  }

  async entries(start: number, end: number): Promise<LogEntry[]> {
    return [...this.entriesByIndex.values()]
      .filter(({ index }) => index >= start && index < end)
      .sort((a, b) => a.index - b.index);
  }

  async leafHashes(start: number, end: number): Promise<Map<number, Uint8Array>> {
    const leaves = new Map<number, Uint8Array>();
    for (let index = start; index < end; index++) {
      const hash = this.nodes.get(`0/${index}`);
      if (hash) leaves.set(index, hash);
    }
    return leaves;
  }

  async readNodeHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    this.nodeReads++;
    return ids.map((id) => {
      const hash = this.nodes.get(`${id.level}/${id.index}`);
      if (!hash) throw new Error(`node ${id.level}/${id.index} missing`);
      return hash;
    });
  }
}

let counter = 0;

/** A record of an event, distinct on every call. */
export function aRecord(overrides: { type?: string; actorId?: string } = {}): AuditRecord {
  counter++;
  return {
    event: {
      eventId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
      type: overrides.type ?? 'access.granted',
      occurredAt: new Date(Date.UTC(2026, 11, 1, 7, 0, 0, counter)),
      producer: 'identity',
      actor: {
        kind: 'ACTOR_KIND_STAFF',
        principalId: overrides.actorId ?? 'stf_vaccinator',
        clientId: 'console',
      },
      subject: {
        kind: 'SUBJECT_KIND_BENEFICIARY',
        ref: `bnf_${String(counter).padStart(26, '0')}`,
      },
      payload: { typeUrl: 'type.googleapis.com/x.Y', value: Uint8Array.of(8, counter % 128) },
      correlationId: '',
    },
    ingestion: {
      topic: 'vaxguard.identity.events',
      partition: counter % 6,
      offset: String(counter),
      ingestedAt: new Date(Date.UTC(2026, 11, 1, 7, 0, 1, counter)),
    },
  };
}

/** The kept state in memory (a file in production); `saves` counts the saves. */
export class MemoryKeptState implements KeptStateStore {
  state: KeptState | undefined;
  saves = 0;

  async load(): Promise<KeptState | undefined> {
    return this.state;
  }

  async save(state: KeptState): Promise<void> {
    this.saves++;
    this.state = state;
  }
}

/** Keeps the alerts raised, by dedup key (as the alert store does). */
export class RecordingAlarm implements LogAlarm {
  readonly alerts = new Map<string, Alert>();

  async raise(alert: Alert): Promise<void> {
    if (!this.alerts.has(alert.dedupKey)) this.alerts.set(alert.dedupKey, alert);
  }

  rules(): string[] {
    return [...this.alerts.values()].map((alert) => `${alert.rule}/${alert.severity}`);
  }
}
