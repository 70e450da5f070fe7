import { describe, expect, it } from 'vitest';
import { appendLeaves, EMPTY_FRONTIER } from './appender';
import { TreeRangeError, NodeReaderError } from './errors';
import { assembleProof, consistencyProofNodes, inclusionProofNodes } from './proof-nodes';
import {
  distinctLeaves,
  referenceConsistencyProof,
  referenceInclusionProof,
} from './testdata/reference-tree';
import { nodeKey } from './tree-nodes';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const MAX_SIZE = 70;
const leaves = distinctLeaves(MAX_SIZE);
const stored = new Map(
  appendLeaves(EMPTY_FRONTIER, leaves).nodes.map((node) => [nodeKey(node), node.hash]),
);
const lookUp = (ids: readonly { level: number; index: number }[]): Uint8Array[] =>
  ids.map((id) => stored.get(nodeKey(id))!);

describe('inclusionProofNodes', () => {
  it('names the sibling subtrees from the leaf up, the right edge rebuilt from its parts', () => {
    const plan = inclusionProofNodes(2, 7);
    expect(plan.elements).toEqual([
      [{ level: 0, index: 3 }],
      [{ level: 1, index: 0 }],
      [
        { level: 1, index: 2 },
        { level: 0, index: 6 },
      ],
    ]);
    expect(plan.nodeIds).toHaveLength(4);
  });

  it('agrees with RFC 6962 PATH for every leaf of every tree up to 70 leaves', () => {
    for (let size = 1; size <= MAX_SIZE; size++) {
      const tree = leaves.slice(0, size);
      for (let index = 0; index < size; index++) {
        const plan = inclusionProofNodes(index, size);
        const proof = assembleProof(plan, lookUp(plan.nodeIds));
        expect(proof.map(hex)).toEqual(referenceInclusionProof(index, tree).map(hex));
      }
    }
  });

  it('needs O(log n) stored nodes for a tree of 2^40 + 12345 leaves', () => {
    const size = 2 ** 40 + 12345;
    const plan = inclusionProofNodes(size - 3000, size);
    expect(plan.elements.length).toBeLessThanOrEqual(41);
    expect(plan.nodeIds.length).toBeLessThanOrEqual(2 * 41);
  });

  it('refuses a leaf outside the tree', () => {
    expect(() => inclusionProofNodes(5, 5)).toThrow(TreeRangeError);
    expect(() => inclusionProofNodes(0, 0)).toThrow(TreeRangeError);
  });
});

describe('consistencyProofNodes', () => {
  it('agrees with RFC 6962 PROOF for every pair of sizes up to 70 leaves', () => {
    for (let newSize = 1; newSize <= MAX_SIZE; newSize++) {
      const tree = leaves.slice(0, newSize);
      for (let oldSize = 1; oldSize <= newSize; oldSize++) {
        const plan = consistencyProofNodes(oldSize, newSize);
        const proof = assembleProof(plan, lookUp(plan.nodeIds));
        expect(proof.map(hex)).toEqual(referenceConsistencyProof(oldSize, tree).map(hex));
      }
    }
  });

  it('needs no nodes between equal sizes', () => {
    expect(consistencyProofNodes(9, 9)).toEqual({ nodeIds: [], elements: [] });
  });

  it('refuses an old size of 0 or one larger than the new size', () => {
    expect(() => consistencyProofNodes(0, 4)).toThrow(TreeRangeError);
    expect(() => consistencyProofNodes(5, 4)).toThrow(TreeRangeError);
  });
});

describe('assembleProof', () => {
  it('refuses a reader answer with a hash missing', () => {
    const plan = inclusionProofNodes(2, 7);
    expect(() => assembleProof(plan, lookUp(plan.nodeIds).slice(1))).toThrow(NodeReaderError);
  });
});
