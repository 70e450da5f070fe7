import { assertHash, assertTreeSize, hashesEqual, HASH_SIZE, nodeHash } from './hashing';

// The loops below follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, with halving in
// place of the RFC's right shift so sizes past 2^31 stay exact.
const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

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
  assertTreeSize(index, 'leaf index');
  assertTreeSize(size, 'tree size');
  assertHash(leafHash, 'leaf hash');
  assertHash(root, 'root hash');
  if (index >= size || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Skip the levels where this node is a right-edge node with no sibling.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && hashesEqual(r, root);
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
  assertTreeSize(oldSize, 'old tree size');
  assertTreeSize(newSize, 'new tree size');
  assertHash(oldRoot, 'old root hash');
  assertHash(newRoot, 'new root hash');
  if (oldSize === 0 || oldSize > newSize || !proof.every(isHash)) return false;
  if (oldSize === newSize) return proof.length === 0 && hashesEqual(oldRoot, newRoot);
  if (proof.length === 0) return false;
  // When the old tree is a perfect subtree of the new one, its root starts the path.
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && hashesEqual(fr, oldRoot) && hashesEqual(sr, newRoot);
}

function isHash(hash: Uint8Array): boolean {
  return hash.length === HASH_SIZE;
}

function isPowerOfTwo(n: number): boolean {
  let power = 1;
  while (power < n) power *= 2;
  return power === n;
}
