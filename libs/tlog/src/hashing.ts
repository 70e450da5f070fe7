import { createHash } from 'node:crypto';
import { bytesEqual } from './encoding';

export { HASH_SIZE, assertHash, assertTreeSize } from './proof-paths';

// Domain separation between leaves and interior nodes (RFC 6962 §2.1), which is what
// stops a second preimage built from an interior node passing as a leaf.
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256(0x00 ‖ entry): the hash of one log entry. */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** The root of the empty tree: SHA-256 of nothing (RFC 6962 §2.1). */
export function emptyRoot(): Uint8Array {
  return sha256();
}

/**
 * The Merkle Tree Hash of a list of leaf hashes, exactly as RFC 6962 §2.1 defines it:
 * the left subtree holds the largest power of two strictly less than the leaf count.
 */
export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return emptyRoot();
  return rangeRoot(leafHashes, 0, leafHashes.length);
}

function rangeRoot(leaves: readonly Uint8Array[], begin: number, end: number): Uint8Array {
  if (end - begin === 1) return leaves[begin] as Uint8Array;
  const split = begin + largestPowerOfTwoBelow(end - begin);
  return nodeHash(rangeRoot(leaves, begin, split), rangeRoot(leaves, split, end));
}

/** The largest power of two strictly less than n, for n ≥ 2 (RFC 6962's k). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Byte equality of two hashes; hashes are public, so no timing-safe compare is needed. */
export function hashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}
