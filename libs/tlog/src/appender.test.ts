import { describe, expect, it } from 'vitest';
import { appendLeaves, EMPTY_FRONTIER, frontierRoot } from './appender';
import { HashLengthError, TreeRangeError } from './errors';
import { leafHash, rootOf } from './hashing';
import { distinctLeaves } from './testdata/reference-tree';
import { LEAF_INPUTS, NODE_HASHES, ROOTS } from './testdata/rfc6962';
import { frontierNodes, nodeKey } from './tree-nodes';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('appendLeaves', () => {
  it('stores every perfect subtree of the published tree, with the published hashes', () => {
    const { nodes, root } = appendLeaves(EMPTY_FRONTIER, LEAF_INPUTS.map(leafHash));
    const stored = new Map(nodes.map((node) => [nodeKey(node), hex(node.hash)]));
    const expected = new Map(
      NODE_HASHES.flatMap((level, l) => level.map((hash, i) => [`${l}/${i}`, hex(hash)] as const)),
    );
    expect(stored).toEqual(expected);
    expect(hex(root)).toBe(hex(ROOTS[8]!));
  });

  it('gives the published root after each single-leaf append', () => {
    let frontier = EMPTY_FRONTIER;
    const roots: string[] = [hex(frontierRoot(frontier))];
    for (const entry of LEAF_INPUTS) {
      const result = appendLeaves(frontier, [leafHash(entry)]);
      frontier = result.frontier;
      roots.push(hex(result.root));
    }
    expect(roots).toEqual(ROOTS.map(hex));
  });

  it('reaches the same tree whatever the batch sizes', () => {
    const leaves = distinctLeaves(70);
    const whole = appendLeaves(EMPTY_FRONTIER, leaves);
    for (const batch of [1, 2, 3, 7, 16, 33]) {
      let frontier = EMPTY_FRONTIER;
      const keys = new Set<string>();
      for (let at = 0; at < leaves.length; at += batch) {
        const result = appendLeaves(frontier, leaves.slice(at, at + batch));
        for (const node of result.nodes) keys.add(nodeKey(node));
        frontier = result.frontier;
        expect(hex(result.root)).toBe(hex(rootOf(leaves.slice(0, frontier.size))));
      }
      expect(frontier.hashes.map(hex)).toEqual(whole.frontier.hashes.map(hex));
      expect(keys).toEqual(new Set(whole.nodes.map(nodeKey)));
    }
  });

  it('hands back each node once: 2n - 1 nodes for n leaves in a perfect tree', () => {
    const { nodes } = appendLeaves(EMPTY_FRONTIER, distinctLeaves(64));
    expect(nodes).toHaveLength(127);
    expect(new Set(nodes.map(nodeKey)).size).toBe(127);
  });

  it('keeps the frontier to the subtrees along the right edge', () => {
    const { frontier } = appendLeaves(EMPTY_FRONTIER, distinctLeaves(13));
    expect(frontier.size).toBe(13);
    expect(frontier.hashes).toHaveLength(frontierNodes(13).length);
  });

  it('refuses a frontier that does not fit its size, and a leaf hash of the wrong length', () => {
    const { frontier } = appendLeaves(EMPTY_FRONTIER, distinctLeaves(3));
    expect(() => appendLeaves({ size: 4, hashes: frontier.hashes }, [])).toThrow(TreeRangeError);
    expect(() => appendLeaves(frontier, [new Uint8Array(31)])).toThrow(HashLengthError);
  });
});
