import { describe, expect, it } from 'vitest';
import { NodeReaderError } from './errors';
import { rootOf } from './hashing';
import { readConsistencyProof, readFrontier, readInclusionProof, readRoot } from './node-reader';
import {
  distinctLeaves,
  MemoryNodeStore,
  referenceConsistencyProof,
  referenceInclusionProof,
} from './testdata/reference-tree';
import { verifyConsistency, verifyInclusion } from './verify';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('reading proofs from stored nodes', () => {
  const leaves = distinctLeaves(45, 'reader');
  const store = new MemoryNodeStore();
  // Batches of uneven sizes, as events arrive.
  for (const batch of [1, 4, 9, 2, 13, 16])
    store.append(leaves.slice(store.frontier.size, store.frontier.size + batch));

  it('builds inclusion proofs in one read that verify and match the RFC', async () => {
    const before = store.reads;
    const proof = await readInclusionProof(store, 17, 45);
    expect(store.reads - before).toBe(1);
    expect(proof.map(hex)).toEqual(referenceInclusionProof(17, leaves).map(hex));
    expect(verifyInclusion(leaves[17]!, 17, 45, proof, rootOf(leaves))).toBe(true);
  });

  it('builds consistency proofs to any earlier size from the same stored nodes', async () => {
    for (const oldSize of [1, 5, 14, 30, 44, 45]) {
      const proof = await readConsistencyProof(store, oldSize, 45);
      expect(proof.map(hex)).toEqual(referenceConsistencyProof(oldSize, leaves).map(hex));
      const oldRoot = rootOf(leaves.slice(0, oldSize));
      expect(verifyConsistency(oldSize, 45, proof, oldRoot, rootOf(leaves))).toBe(true);
    }
  });

  it('proves against a past tree size, not only the current one', async () => {
    const proof = await readInclusionProof(store, 3, 14);
    expect(verifyInclusion(leaves[3]!, 3, 14, proof, rootOf(leaves.slice(0, 14)))).toBe(true);
  });

  it('reads back the frontier and root of any stored size, to resume appending', async () => {
    const frontier = await readFrontier(store, 45);
    expect(frontier.hashes.map(hex)).toEqual(store.frontier.hashes.map(hex));
    expect(hex(await readRoot(store, 30))).toBe(hex(rootOf(leaves.slice(0, 30))));
    expect(hex(await readRoot(store, 0))).toBe(hex(rootOf([])));
  });

  it('does not call the reader for a proof that needs no nodes', async () => {
    const before = store.reads;
    expect(await readInclusionProof(store, 0, 1)).toEqual([]);
    expect(store.reads).toBe(before);
  });

  it('refuses a reader that answers with fewer hashes than asked', async () => {
    const short = { readNodeHashes: async () => [] };
    await expect(readInclusionProof(short, 3, 8)).rejects.toThrow(NodeReaderError);
    await expect(readFrontier(short, 8)).rejects.toThrow(NodeReaderError);
  });
});
