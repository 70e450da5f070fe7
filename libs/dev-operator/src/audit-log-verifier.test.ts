import { randomUUID } from 'node:crypto';
import { VaxGuardError, unavailable } from '@vaxguard/errors';
import {
  appendLeaves,
  createCosignatureSigner,
  EMPTY_FRONTIER,
  generateSignerKey,
  leafHash,
  parseSignerKey,
  readConsistencyProof,
  readInclusionProof,
  signCheckpoint,
  type Frontier,
  type NodeId,
  type NoteSigner,
} from '@vaxguard/tlog';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_VERIFY_EXIT,
  AuditLogUnverifiableError,
  describeVerdict,
  exitCodeOf,
  verifyAuditLog,
  type AuditLogSource,
  type AuditLogVerdict,
  type VerifiedState,
} from './audit-log-verifier';

const ORIGIN = 'audit.verifier-test';

/** Asymmetric matchers typed as what they stand for (they are `any` to the linter). */
const containing = (text: string) => expect.stringContaining(text) as unknown as string;
const matching = (pattern: RegExp) => expect.stringMatching(pattern) as unknown as string;

/**
 * A log as the audit service keeps it: entry rows, stored tree nodes, a head and signed
 * checkpoints, each of which a test can tamper with on its own, as someone with the
 * database could. It counts what it is asked.
 */
class FakeLog implements AuditLogSource {
  readonly key = generateSignerKey(ORIGIN);
  private readonly signer: NoteSigner = parseSignerKey(this.key.signerKey);
  readonly rows = new Map<number, Uint8Array>();
  private nodes = new Map<string, Uint8Array>();
  private frontier: Frontier = EMPTY_FRONTIER;
  /** The checkpoint served; extra signers (witnesses) cosign it. */
  served = '';
  cosigners: NoteSigner[] = [];
  readonly asked = { consistency: 0, inclusion: 0, entries: [] as [number, number][] };

  constructor(size: number) {
    this.append(size);
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Appends `count` entries and signs the new head. */
  append(count: number): void {
    const start = this.frontier.size;
    const entries = Array.from({ length: count }, (_, i) =>
      Buffer.from(
        JSON.stringify({ eventId: randomUUID(), index: start + i, type: 'otp.requested' }),
      ),
    );
    entries.forEach((entry, i) => this.rows.set(start + i, entry));
    this.grow(entries.map((entry) => leafHash(entry)));
    this.sign();
  }

  sign(): void {
    const { size } = this.frontier;
    const { root } = appendLeaves(this.frontier, []);
    this.served = signCheckpoint({ origin: ORIGIN, size, rootHash: root }, [
      this.signer,
      ...this.cosigners,
    ]);
  }

  /** An UPDATE of one entry row: the tree is left as it was. */
  edit(index: number, entry: Uint8Array): void {
    this.rows.set(index, entry);
  }

  /** Two entry rows' contents swapped. */
  swap(a: number, b: number): void {
    const [x, y] = [this.rows.get(a)!, this.rows.get(b)!];
    this.rows.set(a, y);
    this.rows.set(b, x);
  }

  /** A DELETE of the newest rows: the tree and the checkpoint stay. */
  deleteFrom(index: number): void {
    for (const at of [...this.rows.keys()]) if (at >= index) this.rows.delete(at);
  }

  /** An entry edited and the whole tree rebuilt from the rows; the checkpoint stays. */
  rewriteWithTree(index: number, entry: Uint8Array): void {
    this.rows.set(index, entry);
    this.rebuild(this.frontier.size);
  }

  /** The newest entries, their nodes and checkpoints gone, the head recomputed and signed. */
  truncate(cut: number): void {
    this.deleteFrom(cut);
    this.rebuild(cut);
    this.sign();
  }

  private rebuild(size: number): void {
    this.nodes = new Map();
    this.frontier = EMPTY_FRONTIER;
    this.grow(Array.from({ length: size }, (_, i) => leafHash(this.rows.get(i)!)));
  }

  private grow(leaves: Uint8Array[]): void {
    const appended = appendLeaves(this.frontier, leaves);
    for (const node of appended.nodes) this.nodes.set(`${node.level}/${node.index}`, node.hash);
    this.frontier = appended.frontier;
  }

  private readonly reader = {
    readNodeHashes: async (ids: readonly NodeId[]) =>
      ids.map((id) => {
        const hash = this.nodes.get(`${id.level}/${id.index}`);
        if (!hash) throw new VaxGuardError('INTERNAL', 'node missing');
        return hash;
      }),
  };

  async signedCheckpoint() {
    return this.served;
  }

  async consistencyProof(oldSize: number, newSize: number) {
    this.asked.consistency++;
    if (newSize > this.frontier.size) throw new VaxGuardError('OUT_OF_RANGE', 'past the head');
    return readConsistencyProof(this.reader, oldSize, newSize);
  }

  async inclusionProof(index: number, treeSize: number) {
    this.asked.inclusion++;
    return readInclusionProof(this.reader, index, treeSize);
  }

  async entries(start: number, end: number) {
    this.asked.entries.push([start, end]);
    const served = [];
    for (let index = start; index < end; index++) {
      const entry = this.rows.get(index);
      if (entry) served.push({ index, entry });
    }
    return served;
  }
}

const forged = (index: number) =>
  Buffer.from(JSON.stringify({ index, type: 'record.accessed', forged: true }));

async function round(
  log: FakeLog,
  previous?: VerifiedState,
  extra: { full?: boolean; witnessKeys?: string[] } = {},
): Promise<AuditLogVerdict> {
  return verifyAuditLog({
    source: log,
    verifierKey: log.key.verifierKey,
    ...(previous ? { previous } : {}),
    ...extra,
  });
}

/** A first round that verified: the state it keeps. */
async function verified(log: FakeLog): Promise<VerifiedState> {
  const verdict = await round(log);
  if (verdict.outcome !== 'verified') throw new Error(JSON.stringify(verdict));
  return verdict.state;
}

describe('verifyAuditLog', () => {
  it('verifies every entry on a first round, then only the new ones, and keeps the leaf hashes', async () => {
    const log = new FakeLog(37);
    const first = await round(log);
    expect(first).toMatchObject({
      outcome: 'verified',
      checkpoint: { size: 37 },
      entriesChecked: { from: 0, to: 37 },
    });
    expect(exitCodeOf(first)).toBe(AUDIT_VERIFY_EXIT.verified);
    const state = (first as Extract<AuditLogVerdict, { outcome: 'verified' }>).state;
    expect(state.leafHashes).toHaveLength(37);

    log.append(12);
    log.asked.entries.length = 0;
    const second = await round(log, state);
    expect(second).toMatchObject({
      outcome: 'verified',
      previousSize: 37,
      checkpoint: { size: 49 },
      entriesChecked: { from: 36, to: 49 },
    });
    // The new entries, and the newest verified before again.
    expect(log.asked.entries).toEqual([[36, 49]]);
    expect(describeVerdict(second)).toEqual([
      matching(/^checkpoint of audit.verifier-test: 49 entries, root .+, signature valid$/),
      'consistent with the checkpoint verified before (37 entries): nothing rewritten or removed',
      'entries 36 to 48 downloaded and hashed here (the newest verified before, again, and 12 new): with those verified before they give the signed root',
    ]);
    // --full downloads them all again.
    log.asked.entries.length = 0;
    const full = await round(log, state, { full: true });
    expect(full).toMatchObject({ outcome: 'verified', entriesChecked: { from: 0, to: 49 } });
    expect(log.asked.entries).toEqual([[0, 49]]);
  });

  it('names a checkpoint signed by another key of the same name as a bad signature', async () => {
    const log = new FakeLog(5);
    const impostor = new FakeLog(5);
    const verdict = await verifyAuditLog({ source: impostor, verifierKey: log.key.verifierKey });
    expect(verdict).toMatchObject({ outcome: 'tampered', tampering: { kind: 'BAD_SIGNATURE' } });
    expect(exitCodeOf(verdict)).toBe(AUDIT_VERIFY_EXIT.tampered);
  });

  it('names an edited old entry as changed, by the proofs on a first round and by the saved leaves on a full one', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.edit(13, forged(13));
    expect(await round(log)).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_ENTRY',
        entry: { index: 13, problem: 'changed', namedBy: 'proofs' },
        description: containing('entry 13 was changed'),
      },
    });
    expect(await round(log, state, { full: true })).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_ENTRY',
        entry: { index: 13, problem: 'changed', namedBy: 'saved state' },
      },
    });
  });

  it('names the first of two swapped entries as out of place, saying where it belongs', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.swap(9, 31);
    expect(await round(log)).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_ENTRY',
        entry: { index: 9, problem: 'out-of-place', belongsAt: 31, namedBy: 'proofs' },
        description: containing('entry 9 is out of place (its bytes are entry 31'),
      },
    });
    expect(await round(log, state, { full: true })).toMatchObject({
      tampering: {
        entry: { index: 9, problem: 'out-of-place', belongsAt: 31, namedBy: 'saved state' },
      },
    });
  });

  it('names the first deleted entry as missing when the newest rows are deleted', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.append(5);
    log.deleteFrom(42);
    expect(await round(log, state)).toMatchObject({
      outcome: 'tampered',
      tampering: { kind: 'BAD_ENTRY', entry: { index: 42, problem: 'missing' } },
    });
    expect(await round(log)).toMatchObject({
      tampering: { kind: 'BAD_ENTRY', entry: { index: 42, problem: 'missing' } },
    });
  });

  it('names the first entry cut while the log still serves the checkpoint held: a round that sees the newest gone goes over all', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.deleteFrom(33);
    log.asked.entries.length = 0;
    expect(await round(log, state)).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_ENTRY',
        entry: { index: 33, problem: 'missing', namedBy: 'saved state' },
      },
    });
    expect(log.asked.entries).toEqual([
      [39, 40],
      [0, 40],
    ]);
    // An old entry changed is seen by a full round only: the others trust the saved leaves.
    const other = new FakeLog(40);
    const held = await verified(other);
    other.edit(5, forged(5));
    expect(await round(other, held)).toMatchObject({ outcome: 'verified' });
    expect(await round(other, held, { full: true })).toMatchObject({ outcome: 'tampered' });
  });

  it('reports a shrink at once, before asking for any proof or entry', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.truncate(33);
    log.asked.consistency = 0;
    log.asked.entries.length = 0;
    const verdict = await round(log, state);
    expect(verdict).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'SHRANK',
        previousSize: 40,
        size: 33,
        description: matching(/^the log shrank from 40 to 33 entries/),
      },
    });
    expect(log.asked).toMatchObject({ consistency: 0, inclusion: 0, entries: [] });
  });

  it('names a truncated log that grew past the checkpoint held a fork, and the first entry replaced', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.truncate(33);
    log.append(10);
    const verdict = await round(log, state);
    expect(verdict).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'FORK',
        previousSize: 40,
        size: 43,
        entry: { index: 33, problem: 'changed', namedBy: 'saved state' },
        description: containing('does not extend the tree of 40 entries'),
      },
    });
  });

  it('names an entry rewritten with the tree rebuilt (the signed checkpoint kept) by the saved leaves', async () => {
    const log = new FakeLog(40);
    const state = await verified(log);
    log.rewriteWithTree(21, forged(21));
    expect(await round(log, state, { full: true })).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_ENTRY',
        entry: { index: 21, problem: 'changed', namedBy: 'saved state' },
      },
    });
    // Without saved leaves the log's rewritten proofs cannot name it, but it is still caught.
    expect(await round(log)).toMatchObject({
      outcome: 'tampered',
      tampering: { kind: 'BAD_ENTRY' },
    });
  });

  it('requires the cosignature of each witness key given, and names who cosigned', async () => {
    const log = new FakeLog(8);
    const witness = createCosignatureSigner('witness.example');
    const other = createCosignatureSigner('witness.other');
    log.cosigners = [witness];
    log.sign();
    const verdict = await round(log, undefined, { witnessKeys: [witness.verifierKey] });
    expect(verdict).toMatchObject({ outcome: 'verified', cosignedBy: ['witness.example'] });
    expect(await round(log, undefined, { witnessKeys: [other.verifierKey] })).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_SIGNATURE',
        description: containing('no valid cosignature of witness.other'),
      },
    });
    expect(
      await round(log, undefined, { witnessKeys: [witness.verifierKey, other.verifierKey] }),
    ).toMatchObject({
      outcome: 'tampered',
      tampering: {
        kind: 'BAD_SIGNATURE',
        description: containing('no valid cosignature of witness.other'),
      },
    });
  });

  it('throws, saying nothing of the log, when the log cannot be asked or the state is not its own', async () => {
    const log = new FakeLog(8);
    const down: AuditLogSource = {
      signedCheckpoint: () => Promise.reject(unavailable('connection refused')),
      consistencyProof: (oldSize, newSize) => log.consistencyProof(oldSize, newSize),
      inclusionProof: (index, treeSize) => log.inclusionProof(index, treeSize),
      entries: (start, end) => log.entries(start, end),
    };
    await expect(
      verifyAuditLog({ source: down, verifierKey: log.key.verifierKey }),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    const stranger = await verified(new FakeLog(8));
    await expect(round(log, stranger)).rejects.toBeInstanceOf(AuditLogUnverifiableError);
  });
});
