import { invalidArgument, outOfRange, unavailable } from '@vaxguard/errors';
import {
  appendLeaves,
  EMPTY_FRONTIER,
  leafHash,
  nodeCoverage,
  openCheckpoint,
  readConsistencyProof,
  readFrontier,
  readInclusionProof,
  type NoteVerifier,
  type StoredNode,
} from '@vaxguard/tlog';
import { columnsMatch, columnsOf, decodeEntry, EntryFormatError } from './entry-encoding';
import {
  checkEntryRange,
  decodePageToken,
  encodePageToken,
  entriesPageSize,
  requireAuditor,
  sameHash,
  VERIFY_PAGE,
  verifyLogPageSize,
} from './log-rules';
import type { Halt, KeptState } from './log-keeper';
import type { LogEntry, LogStore, StaffReader, StoredCheckpoint } from './model';

/** What the reader needs of the state kept outside the database (LogKeeper). */
export interface KeptLog {
  readonly state: KeptState;
  /** The checkpoint the log publishes as current: the cosigned one, or with no witnesses the signed one. */
  published(): StoredCheckpoint | undefined;
  /** Raises the CRITICAL alert for a mismatch VerifyLog found. */
  tampered(facts: { kind: string; index: number; description: string }): Promise<void>;
}

export interface LogReaderOptions {
  readonly store: LogStore;
  readonly kept: KeptLog;
  readonly origin: string;
  /** The log's public key, as published: `<name>+<key id>+<base64 key>`. */
  readonly verifierKey: string;
  readonly verifier: NoteVerifier;
}

export type MismatchKind =
  | 'LOG_SHRUNK'
  | 'ENTRY_MISSING'
  | 'LEAF_HASH'
  | 'ENTRY_COLUMNS'
  | 'CHECKPOINT_ROOT'
  | 'CHECKPOINT_SIGNATURE'
  | 'TREE_NODE';

export interface Mismatch {
  readonly kind: MismatchKind;
  /** The first entry that does not match (for a checkpoint: the first it covers beyond the last match). */
  readonly index: number;
  readonly checkpointSize?: number;
  readonly description: string;
}

/**
 * How far a VerifyLog page verified: the entries from the page's start up to
 * `treeSize`, hashed here, with the stored tree before the start (which earlier pages
 * verified the same way) give `rootHash`, the root of the checkpoint of that size,
 * signed with the log's key (or kept outside the database).
 */
export interface VerifiedMark {
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
}

/**
 * One page of VerifyLog: entries [from, checkedTo) of the range [from, to) checked.
 * A page that does not reach the range's end stops at a checkpoint when one falls in
 * it, so that the next one starts where a signed root was compared.
 */
export interface VerifyReport {
  readonly from: number;
  readonly to: number;
  /** Where this page stopped: the next one starts here. */
  readonly checkedTo: number;
  readonly checkpointsChecked: number;
  /** The largest checkpoint whose root this page's entries gave; none when no checkpoint fell in it. */
  readonly verifiedUpTo?: VerifiedMark;
  /** To go on with the rest of the range; empty when it is done or a mismatch ended it. */
  readonly nextPageToken: string;
  readonly firstMismatch?: Mismatch;
}

/** Which page of a VerifyLog range: the first (no token), or the one a token goes on with. */
export interface VerifyPageRequest {
  /** At most this many entries; 0 means MAX_VERIFY_LOG_PAGE. */
  readonly pageSize: number;
  readonly pageToken: string;
}

export interface EntriesPage {
  readonly entries: readonly (LogEntry & { readonly eventId: string })[];
  readonly nextPageToken: string;
}

/**
 * Reading the log: checkpoints and proofs for anyone (they reveal only hashes),
 * entries and verification for auditors.
 */
export class LogReader {
  constructor(private readonly options: LogReaderOptions) {}

  /**
   * The checkpoint the log publishes as current (cosigned by its witnesses, when it
   * has any), kept outside the database; and whether the log has halted, when it then
   * stays the last one published.
   */
  latestCheckpoint(): { checkpoint: StoredCheckpoint; verifierKey: string; halt?: Halt } {
    const checkpoint = this.options.kept.published();
    if (!checkpoint) {
      throw unavailable('the log has not published a checkpoint yet', { reason: 'NO_CHECKPOINT' });
    }
    const { halt } = this.options.kept.state;
    return { checkpoint, verifierKey: this.options.verifierKey, ...(halt ? { halt } : {}) };
  }

  async entries(
    reader: StaffReader | undefined,
    request: { start: number; end: number; pageSize: number; pageToken: string },
  ): Promise<EntriesPage> {
    requireAuditor(reader);
    const { size } = await this.options.store.head();
    const range = request.pageToken
      ? decodePageToken(request.pageToken)
      : { next: request.start, end: request.end === 0 ? size : request.end };
    checkEntryRange(range.next, range.end, size);
    const pageEnd = Math.min(range.end, range.next + entriesPageSize(request.pageSize));
    const entries = await this.options.store.entries(range.next, pageEnd);
    return {
      entries: entries.map((entry) => ({ ...entry, eventId: entry.columns.eventId })),
      nextPageToken: pageEnd < range.end ? encodePageToken({ next: pageEnd, end: range.end }) : '',
    };
  }

  async inclusionProof(index: number, treeSize: number) {
    // A leaf beyond the tree the caller named is never in it; beyond the latest tree,
    // it may be once the log grows.
    if (treeSize !== 0 && index >= treeSize) {
      throw invalidArgument(`leaf ${index} is not in the tree of size ${treeSize}`, {
        reason: 'OUT_OF_RANGE',
      });
    }
    const size = await this.provenSize(treeSize);
    if (index >= size) {
      throw outOfRange(`leaf ${index} is past the latest checkpoint, of size ${size}`, {
        reason: 'OUT_OF_RANGE',
      });
    }
    return {
      index,
      treeSize: size,
      hashes: await readInclusionProof(this.options.store, index, size),
      checkpoint: await this.checkpointOfSize(size),
    };
  }

  async consistencyProof(oldSize: number, newSize: number) {
    // RFC 6962 proves 0 < old_size <= new_size: other pairs are never answerable.
    if (oldSize === 0 || (newSize !== 0 && oldSize > newSize)) {
      throw invalidArgument(`no consistency proof from size ${oldSize} to ${newSize}`, {
        reason: 'OUT_OF_RANGE',
      });
    }
    const size = await this.provenSize(newSize);
    if (oldSize > size) {
      throw outOfRange(`size ${oldSize} is past the latest checkpoint, of size ${size}`, {
        reason: 'OUT_OF_RANGE',
      });
    }
    return {
      oldSize,
      newSize: size,
      hashes: await readConsistencyProof(this.options.store, oldSize, size),
      checkpoint: await this.checkpointOfSize(size),
    };
  }

  /**
   * Checks the stored log against itself and against the checkpoints kept outside the
   * database (the last the log signed, the last its witnesses cosigned), and raises a
   * CRITICAL LOG_TAMPERED alert for what it finds. First, before any proof: a stored
   * tree smaller than the kept checkpoint (a truncation, the head recomputed) is a
   * shrink, named at the first entry gone. Then entries [from, to) are recomputed from
   * their stored bytes, in index order: each must be present, hash to the leaf stored
   * when it was appended, and agree with its query columns; and the recomputed root
   * must equal the root of each checkpoint in the range, the kept ones included. The
   * first failure is reported, naming the entry. `to` 0 checks to the end of the log:
   * its head or its last kept or stored checkpoint, whichever is larger, so entries
   * deleted from the end are still missed.
   *
   * One call checks one page of at most MAX_VERIFY_LOG_PAGE entries, reading its
   * checkpoints and entries in index order, and answers how far it verified and a
   * token to go on. The token is only a position (the next index and the range's end),
   * nothing the log trusts: a page starts from the stored tree at its first index, as
   * a request's `from` does, and the first checkpoint after it shows a tampered prefix
   * (a root that does not match). A forged token can only make its own caller's report
   * cover less, which asking for a smaller range does anyway; it cannot make the log
   * say it verified an entry it did not read, nor raise an alert for a mismatch that
   * is not in storage.
   */
  async verify(
    reader: StaffReader | undefined,
    from: number,
    to: number,
    page: VerifyPageRequest = { pageSize: 0, pageToken: '' },
  ): Promise<VerifyReport> {
    requireAuditor(reader);
    const report = await this.check(from, to, page);
    const mismatch = report.firstMismatch;
    if (mismatch) await this.options.kept.tampered(mismatch);
    return report;
  }

  private async check(from: number, to: number, page: VerifyPageRequest): Promise<VerifyReport> {
    const { store } = this.options;
    const { signed: kept, cosigned, halt } = this.options.kept.state;
    const [head, latest] = await Promise.all([store.head(), store.latestCheckpoint()]);
    const logEnd = Math.max(head.size, latest?.size ?? 0, kept?.size ?? 0);
    // The range's end is fixed by its first page: a log that grows meanwhile still ends.
    const range = page.pageToken
      ? decodePageToken(page.pageToken)
      : { next: from, end: to === 0 ? logEnd : to };
    const start = range.next;
    const { end } = range;
    const report = (
      progress: { checkedTo: number; checked: number; mark?: VerifiedMark },
      firstMismatch?: Mismatch,
    ): VerifyReport => ({
      from: start,
      to: end,
      checkedTo: progress.checkedTo,
      checkpointsChecked: progress.checked,
      ...(progress.mark ? { verifiedUpTo: progress.mark } : {}),
      nextPageToken:
        !firstMismatch && progress.checkedTo < end
          ? encodePageToken({ next: progress.checkedTo, end })
          : '',
      ...(firstMismatch ? { firstMismatch } : {}),
    });
    if (kept && head.size < kept.size) {
      // Entries appended since the log halted are no part of its history either: the
      // halt saw where the stored tree ended.
      const shrunkTo = Math.min(
        head.size,
        halt?.keptSize === kept.size ? halt.treeSize : head.size,
      );
      return report(
        { checkedTo: start, checked: 0 },
        {
          kind: 'LOG_SHRUNK',
          index: shrunkTo,
          checkpointSize: kept.size,
          description: `the stored log has ${head.size} entries, fewer than the ${kept.size} of the checkpoint the log signed and kept: entries from ${shrunkTo} are gone`,
        },
      );
    }
    checkEntryRange(start, end, logEnd);
    const window = Math.min(end, start + verifyLogPageSize(page.pageSize));
    const inWindow = withKept(await store.checkpointsBetween(start, window), [kept, cosigned], {
      from: start,
      end: window,
    });
    // A page short of the range's end stops at its last checkpoint, when it has one.
    const stop = window < end ? (inWindow.at(-1)?.size ?? window) : end;
    const checkpoints = inWindow.filter(({ size }) => size <= stop);
    let before = start;
    for (const checkpoint of checkpoints) {
      const mismatch = checkpoint.kept ? undefined : this.checkSignature(checkpoint, before);
      if (mismatch) return report({ checkedTo: start, checked: 0 }, mismatch);
      before = checkpoint.size;
    }
    // The tree before `start` is taken from the stored nodes: a tampered prefix shows as
    // a root that no longer matches the first checkpoint in the page.
    let frontier = start === 0 ? EMPTY_FRONTIER : await readFrontier(store, start);
    let checked = 0;
    let mark: VerifiedMark | undefined;
    for (let at = start; at < stop;) {
      const next = checkpoints[checked];
      // Reads end at checkpoints, where the root is compared.
      const readTo = Math.min(stop, at + VERIFY_PAGE, next?.size ?? stop);
      const [entries, leaves] = await Promise.all([
        store.entries(at, readTo),
        store.leafHashes(at, readTo),
      ]);
      const progress = () => ({ checkedTo: at, checked, ...(mark ? { mark } : {}) });
      const computed: Uint8Array[] = [];
      for (let index = at; index < readTo; index++) {
        const entry = entries[index - at];
        const mismatch = checkEntry(index, entry, leaves.get(index));
        if (mismatch) return report(progress(), mismatch);
        computed.push(leafHash((entry as LogEntry).entry));
      }
      const appended = appendLeaves(frontier, computed);
      const nodeMismatch = await this.checkNodes(appended.nodes);
      if (nodeMismatch) return report(progress(), nodeMismatch);
      frontier = appended.frontier;
      if (next && next.size === readTo) {
        if (!sameHash(appended.root, next.rootHash)) {
          return report(progress(), {
            kind: 'CHECKPOINT_ROOT',
            index: mark?.treeSize ?? start,
            checkpointSize: next.size,
            description: `the entries before ${next.size} do not give the root signed in the checkpoint of size ${next.size}`,
          });
        }
        checked++;
        mark = { treeSize: next.size, rootHash: next.rootHash };
      }
      at = readTo;
    }
    return report({ checkedTo: stop, checked, ...(mark ? { mark } : {}) });
  }

  /** The published checkpoint when it is of that size (with its cosignatures), else the stored one. */
  private async checkpointOfSize(size: number): Promise<StoredCheckpoint | undefined> {
    const published = this.options.kept.published();
    if (published?.size === size) return published;
    return this.options.store.checkpointOfSize(size);
  }

  /** The tree size a proof is asked against: 0 means the latest checkpoint's. */
  private async provenSize(treeSize: number): Promise<number> {
    if (treeSize === 0) return this.latestCheckpoint().checkpoint.size;
    const { size } = await this.options.store.head();
    if (treeSize > size) {
      throw outOfRange(`the log has only ${size} entries`, { reason: 'OUT_OF_RANGE' });
    }
    return treeSize;
  }

  /** Compares the interior nodes recomputed from the entries with the stored ones. */
  private async checkNodes(nodes: readonly StoredNode[]): Promise<Mismatch | undefined> {
    const interior = nodes.filter((node) => node.level > 0);
    if (interior.length === 0) return undefined;
    let stored: readonly Uint8Array[];
    try {
      stored = await this.options.store.readNodeHashes(interior);
    } catch {
      stored = [];
    }
    const node = interior.find((n, i) => !stored[i] || !sameHash(n.hash, stored[i]));
    if (!node) return undefined;
    const index = nodeCoverage(node).begin;
    return {
      kind: 'TREE_NODE',
      index,
      description: `the stored tree node ${node.level}/${node.index} over entries from ${index} differs from the entries'`,
    };
  }

  /** `after`: the checkpoint (or page start) before it, where a mismatch is named. */
  private checkSignature(checkpoint: CheckedCheckpoint, after: number): Mismatch | undefined {
    try {
      const opened = openCheckpoint(
        checkpoint.signedNote,
        [this.options.verifier],
        this.options.origin,
      ).checkpoint;
      if (opened.size === checkpoint.size && sameHash(opened.rootHash, checkpoint.rootHash)) {
        return undefined;
      }
    } catch {
      // reported below
    }
    return {
      kind: 'CHECKPOINT_SIGNATURE',
      index: after,
      checkpointSize: checkpoint.size,
      description: `the stored checkpoint of size ${checkpoint.size} is not signed by the log's key for that tree`,
    };
  }
}

type CheckedCheckpoint = Pick<StoredCheckpoint, 'size' | 'rootHash' | 'signedNote'> & {
  readonly kept?: true;
};

/**
 * The stored checkpoints in (from, end], with the kept ones among them in place of a
 * stored one of the same size: the kept ones are trusted as they are (they never were
 * in the database), a stored one only once its signature verifies.
 */
function withKept(
  stored: readonly StoredCheckpoint[],
  kept: readonly ({ size: number; rootHash: Uint8Array } | undefined)[],
  range: { readonly from: number; readonly end: number },
): CheckedCheckpoint[] {
  const bySize = new Map<number, CheckedCheckpoint>(
    stored.map((checkpoint) => [checkpoint.size, checkpoint]),
  );
  for (const checkpoint of kept) {
    if (checkpoint && checkpoint.size > range.from && checkpoint.size <= range.end) {
      bySize.set(checkpoint.size, {
        size: checkpoint.size,
        rootHash: checkpoint.rootHash,
        signedNote: '',
        kept: true,
      });
    }
  }
  return [...bySize.values()].sort((a, b) => a.size - b.size);
}

function checkEntry(
  index: number,
  entry: LogEntry | undefined,
  storedLeaf: Uint8Array | undefined,
): Mismatch | undefined {
  if (entry?.index !== index) {
    return { kind: 'ENTRY_MISSING', index, description: `entry ${index} is missing` };
  }
  if (!storedLeaf || !sameHash(leafHash(entry.entry), storedLeaf)) {
    return {
      kind: 'LEAF_HASH',
      index,
      description: `entry ${index} does not hash to the leaf appended at ${index}`,
    };
  }
  try {
    if (columnsMatch(entry.columns, columnsOf(decodeEntry(entry.entry)))) return undefined;
  } catch (error) {
    if (!(error instanceof EntryFormatError)) throw error;
  }
  return {
    kind: 'ENTRY_COLUMNS',
    index,
    description: `entry ${index}'s columns differ from its recorded bytes`,
  };
}
