import { describe, expect, it } from 'vitest';
import { emptyRoot, leafHash, nodeHash, rootOf } from './hashing';
import { LEAF_INPUTS, NODE_HASHES, ROOTS } from './testdata/rfc6962';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('RFC 6962 hashing', () => {
  it('hashes each published leaf input to its published leaf hash', () => {
    expect(LEAF_INPUTS.map((entry) => hex(leafHash(entry)))).toEqual(NODE_HASHES[0]?.map(hex));
  });

  it('hashes two children to the published parent', () => {
    const [left, right] = NODE_HASHES[0] ?? [];
    expect(hex(nodeHash(left!, right!))).toBe(hex(NODE_HASHES[1]![0]!));
  });

  it('gives the empty tree the SHA-256 of nothing', () => {
    expect(hex(emptyRoot())).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(hex(rootOf([]))).toBe(hex(emptyRoot()));
  });

  it('computes the published root of every tree size from 0 to 8', () => {
    const leaves = LEAF_INPUTS.map(leafHash);
    const roots = ROOTS.map((_, size) => hex(rootOf(leaves.slice(0, size))));
    expect(roots).toEqual(ROOTS.map(hex));
  });

  it('keeps a leaf and an interior node with the same bytes apart', () => {
    const [left, right] = NODE_HASHES[0] ?? [];
    const concatenated = Buffer.concat([left!, right!]);
    expect(hex(leafHash(concatenated))).not.toBe(hex(nodeHash(left!, right!)));
  });
});
