import { describe, expect, it } from 'vitest';
import { HashLengthError, TlogError, TreeRangeError } from './errors';
import { leafHash, rootOf } from './hashing';
import {
  distinctLeaves,
  referenceConsistencyProof,
  referenceInclusionProof,
} from './testdata/reference-tree';
import { CONSISTENCY_PROBES, INCLUSION_PROBES, LEAF_INPUTS, ROOTS } from './testdata/rfc6962';
import { verifyConsistency, verifyInclusion } from './verify';

type Outcome = 'valid' | 'invalid' | 'refused';

function outcome(run: () => boolean): Outcome {
  try {
    return run() ? 'valid' : 'invalid';
  } catch (error) {
    if (error instanceof TlogError) return 'refused';
    throw error;
  }
}

const flipBit = (proof: readonly Uint8Array[], at: number, bit: number): Uint8Array[] =>
  proof.map((hash, i) => {
    if (i !== at) return hash;
    const copy = Uint8Array.from(hash);
    copy[bit >> 3]! ^= 1 << (bit & 7);
    return copy;
  });

describe('the published RFC 6962 proofs and their manglings (transparency-dev/merkle)', () => {
  // Probes whose roots are not 32 bytes long: this verifier knows only SHA-256 trees
  // and refuses such roots outright instead of comparing them.
  const shortRoots = (probe: { root1: Uint8Array; root2: Uint8Array }): boolean =>
    probe.root1.length !== 32 || probe.root2.length !== 32;

  it.each(INCLUSION_PROBES.map((probe) => [probe.file, probe] as const))(
    'inclusion %s',
    (_, probe) => {
      const result = outcome(() =>
        verifyInclusion(probe.leafHash, probe.leafIdx, probe.treeSize, probe.proof, probe.root),
      );
      if (probe.wantErr) expect(result).not.toBe('valid');
      else expect(result).toBe('valid');
    },
  );

  it.each(CONSISTENCY_PROBES.map((probe) => [probe.file, probe] as const))(
    'consistency %s',
    (_, probe) => {
      const result = outcome(() =>
        verifyConsistency(probe.size1, probe.size2, probe.proof, probe.root1, probe.root2),
      );
      if (shortRoots(probe)) expect(result).toBe('refused');
      else if (probe.wantErr) expect(result).not.toBe('valid');
      else expect(result).toBe('valid');
    },
  );

  it('accepts the happy paths, so the manglings fail for the mangling alone', () => {
    const happy = [...INCLUSION_PROBES, ...CONSISTENCY_PROBES].filter((probe) =>
      probe.file.endsWith('happy-path.json'),
    );
    expect(happy).toHaveLength(10);
  });
});

const sameHashes = (a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean =>
  a.length === b.length && a.every((hash, i) => Buffer.from(hash).equals(b[i]!));

// Proof hashes are opaque, so a proof can hold for another tree size when it is also
// that size's proof (leaf 0 has the path [l1, l2] in trees of 3 and, with l2 standing
// for the right half, of 4): that is why the size is signed with the root. The
// wrong-size checks below therefore expect a pass exactly when the proofs coincide.
describe('verifyInclusion', () => {
  const leaves = distinctLeaves(71, 'inclusion');
  const roots = Array.from({ length: leaves.length + 1 }, (_, n) => rootOf(leaves.slice(0, n)));

  it('accepts every generated proof for every leaf of every tree up to 70, and rejects it mangled', () => {
    for (let size = 1; size <= 70; size++) {
      const tree = leaves.slice(0, size);
      const root = rootOf(tree);
      for (let index = 0; index < size; index++) {
        const leaf = tree[index]!;
        const proof = referenceInclusionProof(index, tree);
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        for (let at = 0; at < proof.length; at++) {
          expect(
            verifyInclusion(leaf, index, size, flipBit(proof, at, (at * 37) % 256), root),
          ).toBe(false);
        }
        for (const otherSize of [size - 1, size + 1].filter((n) => n > index)) {
          const otherProof = referenceInclusionProof(index, leaves.slice(0, otherSize));
          expect(verifyInclusion(leaf, index, otherSize, proof, roots[otherSize]!)).toBe(
            sameHashes(proof, otherProof),
          );
        }
        const otherIndex = (index + 1) % size;
        if (otherIndex !== index) {
          expect(verifyInclusion(leaf, otherIndex, size, proof, root)).toBe(false);
        }
        expect(verifyInclusion(leaf, index, size, proof.slice(1), root)).toBe(proof.length === 0);
        expect(verifyInclusion(leaf, index, size, [...proof, root], root)).toBe(false);
        expect(verifyInclusion(leaf, index, size, proof, flipBit([root], 0, 7)[0]!)).toBe(false);
      }
    }
  });

  it('verifies the published leaf 2 in the published tree of 3', () => {
    const leaves8 = LEAF_INPUTS.map(leafHash);
    const proof = referenceInclusionProof(2, leaves8.slice(0, 3));
    expect(verifyInclusion(leaves8[2]!, 2, 3, proof, ROOTS[3]!)).toBe(true);
    expect(verifyInclusion(leaves8[1]!, 2, 3, proof, ROOTS[3]!)).toBe(false);
  });

  it('refuses sizes that are not whole numbers and hashes that are not 32 bytes', () => {
    const root = rootOf(leaves.slice(0, 4));
    expect(() => verifyInclusion(leaves[0]!, 0.5, 4, [], root)).toThrow(TreeRangeError);
    expect(() => verifyInclusion(leaves[0]!, 0, -4, [], root)).toThrow(TreeRangeError);
    expect(() => verifyInclusion(new Uint8Array(31), 0, 4, [], root)).toThrow(HashLengthError);
    expect(verifyInclusion(leaves[0]!, 0, 4, [new Uint8Array(31), root], root)).toBe(false);
  });
});

describe('verifyConsistency', () => {
  const leaves = distinctLeaves(71, 'consistency');
  const roots = Array.from({ length: leaves.length + 1 }, (_, n) => rootOf(leaves.slice(0, n)));

  it('accepts every generated proof between sizes up to 70, and rejects it mangled', () => {
    for (let newSize = 1; newSize <= 70; newSize++) {
      const tree = leaves.slice(0, newSize);
      for (let oldSize = 1; oldSize <= newSize; oldSize++) {
        const proof = referenceConsistencyProof(oldSize, tree);
        const [oldRoot, newRoot] = [roots[oldSize]!, roots[newSize]!];
        expect(verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot)).toBe(true);
        for (let at = 0; at < proof.length; at++) {
          expect(
            verifyConsistency(oldSize, newSize, flipBit(proof, at, 200), oldRoot, newRoot),
          ).toBe(false);
        }
        const longer = referenceConsistencyProof(oldSize, leaves.slice(0, newSize + 1));
        expect(verifyConsistency(oldSize, newSize + 1, proof, oldRoot, roots[newSize + 1]!)).toBe(
          sameHashes(proof, longer),
        );
        if (oldSize > 1) {
          const shorter = referenceConsistencyProof(oldSize - 1, tree);
          expect(verifyConsistency(oldSize - 1, newSize, proof, roots[oldSize - 1]!, newRoot)).toBe(
            sameHashes(proof, shorter),
          );
        }
        if (oldSize < newSize) {
          expect(verifyConsistency(oldSize, newSize, proof, roots[oldSize - 1]!, newRoot)).toBe(
            false,
          );
          expect(verifyConsistency(oldSize, newSize, proof, oldRoot, roots[newSize - 1]!)).toBe(
            false,
          );
          expect(verifyConsistency(oldSize, newSize, proof.slice(0, -1), oldRoot, newRoot)).toBe(
            false,
          );
          expect(verifyConsistency(newSize, oldSize, proof, newRoot, oldRoot)).toBe(false);
        }
      }
    }
  });

  it('holds between equal sizes only with an empty proof and equal roots', () => {
    expect(verifyConsistency(5, 5, [], roots[5]!, roots[5]!)).toBe(true);
    expect(verifyConsistency(5, 5, [roots[5]!], roots[5]!, roots[5]!)).toBe(false);
    expect(verifyConsistency(5, 5, [], roots[5]!, roots[4]!)).toBe(false);
  });

  it('proves nothing from the empty tree', () => {
    expect(verifyConsistency(0, 3, [], roots[0]!, roots[3]!)).toBe(false);
    expect(verifyConsistency(0, 0, [], roots[0]!, roots[0]!)).toBe(false);
  });
});
