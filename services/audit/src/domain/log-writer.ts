import {
  appendLeaves,
  frontierRoot,
  leafHash,
  type NodeHashReader,
  readFrontier,
  signCheckpoint,
  type Frontier,
  type StoredNode,
  type NoteSigner,
} from '@vaxguard/tlog';
import { columnsOf, encodeEntry } from './entry-encoding';
import { checkpointDue, sameHash, type CheckpointPolicy } from './log-rules';
import type { AuditRecord, Clock, LogHead, LogTransaction, StoredCheckpoint } from './model';

export interface LogWriterOptions {
  /** The log's name, the first line of each checkpoint; the signer key's name. */
  readonly origin: string;
  readonly signer: NoteSigner;
  readonly policy: CheckpointPolicy;
  readonly clock: Clock;
  /** Says whether a stored tree may be signed: it must extend what the log kept (LogKeeper). */
  readonly guard: SigningGuard;
}

export interface SigningGuard {
  maySign(nodes: NodeHashReader, head: LogHead): Promise<boolean>;
  /** Set once the log has halted: nothing is signed until an operator acts. */
  readonly halt: object | undefined;
}

/**
 * Appends records to the RFC 6962 tree and signs checkpoints. Every call runs inside a
 * LogTransaction holding the head locked, so appends from any number of consumers or
 * instances are applied one after another, and a batch is stored whole or not at all.
 */
export class LogWriter {
  // The frontier after this writer's last append, reused when the head is still that
  // tree (same size and root); otherwise read again from the stored nodes. `signable`:
  // it was built on a head the guard allowed, so it extends the kept checkpoint too.
  private cached:
    | { readonly frontier: Frontier; readonly root: Uint8Array; readonly signable: boolean }
    | undefined;

  constructor(private readonly options: LogWriterOptions) {}

  /**
   * Appends the records in order as the next entries. A batch that carries the log past
   * N entries since its last checkpoint is signed at exactly that size (and at every N
   * after it), so checkpoints keep their spacing however large the batches are.
   */
  async append(tx: LogTransaction, records: readonly AuditRecord[]): Promise<LogHead> {
    // Encoding and hashing need no position: done before the lock, so it is held briefly.
    const encoded = records.map((record) => ({
      entry: encodeEntry(record),
      columns: columnsOf(record),
    }));
    const leaves = encoded.map(({ entry }) => leafHash(entry));
    const head = await tx.lockHead();
    if (records.length === 0) return head;
    const tree = await this.treeOf(tx, head);
    const signable = tree.signable;
    let frontier = tree.frontier;
    let root = head.rootHash;
    const entries = encoded.map((entry, i) => ({ ...entry, index: head.size + i }));
    const { everyEntries } = this.options.policy;
    let signedSize = (await tx.latestCheckpoint())?.size;
    const nodes: StoredNode[] = [];
    const checkpoints: StoredCheckpoint[] = [];
    for (let done = 0; done < leaves.length;) {
      const untilDue =
        signedSize === undefined ? leaves.length : signedSize + everyEntries - frontier.size;
      const take = Math.min(Math.max(untilDue, 1), leaves.length - done);
      const appended = appendLeaves(frontier, leaves.slice(done, done + take));
      nodes.push(...appended.nodes);
      frontier = appended.frontier;
      root = appended.root;
      done += take;
      if (signable && signedSize !== undefined && frontier.size - signedSize >= everyEntries) {
        checkpoints.push(this.sign({ size: frontier.size, rootHash: root }));
        signedSize = frontier.size;
      }
    }
    const next: LogHead = { size: frontier.size, rootHash: root };
    await tx.append(entries, nodes, next);
    for (const checkpoint of checkpoints) await tx.saveCheckpoint(checkpoint);
    this.cached = { frontier, root, signable };
    if (signable) await this.checkpointIfDue(tx, next);
    return next;
  }

  /**
   * Signs the current tree if the policy says so (the timer calls this between appends)
   * and the guard allows it.
   */
  async checkpoint(tx: LogTransaction): Promise<StoredCheckpoint | undefined> {
    const head = await tx.lockHead();
    if (!(await this.treeOf(tx, head)).signable) return undefined;
    return this.checkpointIfDue(tx, head);
  }

  private async checkpointIfDue(
    tx: LogTransaction,
    head: LogHead,
  ): Promise<StoredCheckpoint | undefined> {
    const now = this.options.clock();
    if (!checkpointDue(head.size, await tx.latestCheckpoint(), now, this.options.policy)) {
      return undefined;
    }
    const checkpoint = this.sign(head);
    await tx.saveCheckpoint(checkpoint);
    return checkpoint;
  }

  private sign(head: LogHead): StoredCheckpoint {
    return {
      size: head.size,
      rootHash: head.rootHash,
      signedNote: signCheckpoint(
        { origin: this.options.origin, size: head.size, rootHash: head.rootHash },
        [this.options.signer],
      ),
      createdAt: this.options.clock(),
    };
  }

  /**
   * The stored tree's frontier, and whether it may be signed. The tree this writer
   * built itself on an allowed head needs no proof; any other is read from the stored
   * nodes, which must give the stored root, and proved to the guard.
   */
  private async treeOf(
    tx: LogTransaction,
    head: LogHead,
  ): Promise<{ frontier: Frontier; signable: boolean }> {
    const cached = this.cached;
    if (cached && cached.frontier.size === head.size && sameHash(cached.root, head.rootHash)) {
      return { frontier: cached.frontier, signable: cached.signable && !this.options.guard.halt };
    }
    const frontier = await readFrontier(tx, head.size);
    const allowed = await this.options.guard.maySign(tx, head);
    const signable = allowed && sameHash(frontierRoot(frontier), head.rootHash);
    return { frontier, signable };
  }
}
