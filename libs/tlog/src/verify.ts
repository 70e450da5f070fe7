import { hashesEqual, nodeHash } from './hashing';
import { assertHash, consistencyPlan, inclusionSteps, isHash } from './proof-paths';

/**
 * Whether `proof` shows that the leaf with hash `leafHash` is at `index` in the tree of
 * `size` leaves whose root is `root` (RFC 9162 §2.1.3.2). A proof that proves nothing
 * (wrong length, wrong hashes, an index outside the tree) gives false.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const steps = inclusionSteps(index, size, proof.length);
  assertHash(leafHash, 'leaf hash');
  assertHash(root, 'root hash');
  if (steps === undefined || !proof.every(isHash)) return false;
  let r = leafHash;
  steps.forEach((step, i) => {
    const p = proof[i] as Uint8Array;
    r = step === 'proof-left' ? nodeHash(p, r) : nodeHash(r, p);
  });
  return hashesEqual(r, root);
}

/**
 * Whether `proof` shows that the tree of `oldSize` leaves with root `oldRoot` is a prefix
 * of the tree of `newSize` leaves with root `newRoot` (RFC 9162 §2.1.4.2). Equal sizes
 * hold with an empty proof and equal roots; an old size of 0 or one larger than the new
 * size proves nothing and gives false.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  const plan = consistencyPlan(oldSize, newSize, proof.length);
  assertHash(oldRoot, 'old root hash');
  assertHash(newRoot, 'new root hash');
  if (!proof.every(isHash)) return false;
  if (oldSize !== 0 && oldSize === newSize) {
    return proof.length === 0 && hashesEqual(oldRoot, newRoot);
  }
  if (plan === undefined) return false;
  const path = plan.startsWithOldRoot ? [oldRoot, ...proof] : [...proof];
  let fr = path[0] as Uint8Array;
  let sr = fr;
  plan.steps.forEach((step, i) => {
    const c = path[i + 1] as Uint8Array;
    if (step === 'both') {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    } else {
      sr = nodeHash(sr, c);
    }
  });
  return hashesEqual(fr, oldRoot) && hashesEqual(sr, newRoot);
}
