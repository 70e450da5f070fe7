import { withTransaction, type Pool, type PoolClient, type Queryable } from '@vaxguard/db';
import type { NodeId, StoredNode } from '@vaxguard/tlog';
import type {
  LogEntry,
  LogHead,
  LogStore,
  LogTransaction,
  LogTransactions,
  StoredCheckpoint,
} from '../domain/model';
import { entriesArchived } from '../domain/log-rules';
import { firstAttachedIndex } from './pg-partitions';
import { PgTileStore } from './pg-tile-store';

export interface EntryRow {
  entry_index: string;
  event_id: string;
  event_type: string;
  producer: string;
  actor_kind: string;
  actor_id: string;
  subject_kind: string;
  subject_ref: string;
  occurred_at: Date;
  ingested_at: Date;
  entry: Buffer;
}

interface CheckpointRow {
  tree_size: string;
  root_hash: Buffer;
  signed_note: string;
  created_at: Date;
}

const CHECKPOINT_COLUMNS = 'tree_size, root_hash, signed_note, created_at';

function checkpointOf(row: CheckpointRow): StoredCheckpoint {
  return {
    size: Number(row.tree_size),
    rootHash: row.root_hash,
    signedNote: row.signed_note,
    createdAt: row.created_at,
  };
}

export function entryOf(row: EntryRow): LogEntry {
  return {
    index: Number(row.entry_index),
    entry: row.entry,
    columns: {
      eventId: row.event_id,
      eventType: row.event_type,
      producer: row.producer,
      actorKind: row.actor_kind,
      actorId: row.actor_id,
      subjectKind: row.subject_kind,
      subjectRef: row.subject_ref,
      occurredAt: row.occurred_at,
      ingestedAt: row.ingested_at,
    },
  };
}

async function latestCheckpoint(db: Queryable): Promise<StoredCheckpoint | undefined> {
  const { rows } = await db.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1`,
  );
  return rows[0] && checkpointOf(rows[0]);
}

/** One append or checkpoint transaction, on a client inside BEGIN. */
export class PgLogTransaction implements LogTransaction {
  private readonly tiles: PgTileStore;

  constructor(private readonly tx: PoolClient) {
    this.tiles = new PgTileStore(tx);
  }

  async lockHead(): Promise<LogHead> {
    const { rows } = await this.tx.query<{ tree_size: string; root_hash: Buffer }>(
      'SELECT tree_size, root_hash FROM audit_log_head FOR UPDATE',
    );
    const row = rows[0];
    if (!row) throw new Error('the audit log head row is missing');
    return { size: Number(row.tree_size), rootHash: row.root_hash };
  }

  async append(
    entries: readonly LogEntry[],
    nodes: readonly StoredNode[],
    head: LogHead,
  ): Promise<void> {
    const column = <T>(pick: (entry: LogEntry) => T) => entries.map(pick);
    await this.tx.query(
      `INSERT INTO audit_log_entries (entry_index, event_id, event_type, producer, actor_kind,
         actor_id, subject_kind, subject_ref, occurred_at, ingested_at, entry)
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[],
         $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::bytea[])`,
      [
        column((e) => e.index),
        column((e) => e.columns.eventId),
        column((e) => e.columns.eventType),
        column((e) => e.columns.producer),
        column((e) => e.columns.actorKind),
        column((e) => e.columns.actorId),
        column((e) => e.columns.subjectKind),
        column((e) => e.columns.subjectRef),
        column((e) => e.columns.occurredAt),
        column((e) => e.columns.ingestedAt),
        column((e) => Buffer.from(e.entry)),
      ],
    );
    await this.tiles.append(nodes);
    await this.tx.query('UPDATE audit_log_head SET tree_size = $1, root_hash = $2', [
      head.size,
      Buffer.from(head.rootHash),
    ]);
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return latestCheckpoint(this.tx);
  }

  async saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    await this.tx.query(
      `INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4)`,
      [
        checkpoint.size,
        Buffer.from(checkpoint.rootHash),
        checkpoint.signedNote,
        checkpoint.createdAt,
      ],
    );
  }

  readNodeHashes(ids: readonly NodeId[]): Promise<readonly Uint8Array[]> {
    return this.tiles.nodeReader().readNodeHashes(ids);
  }
}

/** The transparency log in PostgreSQL: reads on the pool, writes in transactions. */
export class PgLogStore implements LogStore, LogTransactions {
  private readonly tiles: PgTileStore;

  constructor(private readonly pool: Pool) {
    this.tiles = new PgTileStore(pool);
  }

  inTransaction<T>(work: (tx: LogTransaction) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, (client) => work(new PgLogTransaction(client)));
  }

  async head(): Promise<LogHead> {
    const { rows } = await this.pool.query<{ tree_size: string; root_hash: Buffer }>(
      'SELECT tree_size, root_hash FROM audit_log_head',
    );
    const row = rows[0];
    if (!row) throw new Error('the audit log head row is missing');
    return { size: Number(row.tree_size), rootHash: row.root_hash };
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return latestCheckpoint(this.pool);
  }

  async checkpointOfSize(size: number): Promise<StoredCheckpoint | undefined> {
    const { rows } = await this.pool.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tree_size = $1`,
      [size],
    );
    return rows[0] && checkpointOf(rows[0]);
  }

  async checkpointsBetween(from: number, to: number): Promise<StoredCheckpoint[]> {
    const { rows } = await this.pool.query<CheckpointRow>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints
        WHERE tree_size > $1 AND tree_size <= $2 ORDER BY tree_size`,
      [from, to],
    );
    return rows.map(checkpointOf);
  }

  /**
   * Entries [start, end) as stored. A range that starts below the partitions still
   * attached is refused as archived (ENTRIES_ARCHIVED); rows missing anywhere else are
   * left out, for VerifyLog to find.
   */
  async entries(start: number, end: number): Promise<LogEntry[]> {
    const { rows } = await this.pool.query<EntryRow>(
      `SELECT * FROM audit_log_entries
        WHERE entry_index >= $1 AND entry_index < $2 ORDER BY entry_index`,
      [start, end],
    );
    if (rows.length < end - start) {
      const firstHeld = await firstAttachedIndex(this.pool);
      if (firstHeld !== undefined && start < firstHeld) throw entriesArchived(start, firstHeld);
    }
    return rows.map(entryOf);
  }

  leafHashes(start: number, end: number): Promise<Map<number, Uint8Array>> {
    return this.tiles.leafHashes(start, end);
  }

  readNodeHashes(ids: readonly NodeId[]): Promise<readonly Uint8Array[]> {
    return this.tiles.nodeReader().readNodeHashes(ids);
  }

  /** The tree's tiles, as stored (the tiles served over HTTP read them). */
  tileStore(): PgTileStore {
    return this.tiles;
  }
}
