import { HashLengthError, TreeRangeError } from './errors';

// The shape of RFC 9162's proof checks (§2.1.3.2 inclusion, §2.1.4.2 consistency): which
// side each proof hash goes on depends only on the sizes and the index, never on the
// hashes. Computing it apart from the hashing lets the node verifier (node:crypto, sync)
// and the browser's (WebCrypto, async) run the one loop the RFC gives.

/** Every hash in the log is SHA-256 (RFC 6962 §2.1). */
export const HASH_SIZE = 32;

/** Where a proof hash goes when it is combined with the hash computed so far. */
export type InclusionStep = 'proof-left' | 'proof-right';

/**
 * For consistency: 'both' hashes the proof hash on the left of both the old and the new
 * root computed so far; 'new-right' hashes it on the right of the new root only.
 */
export type ConsistencyStep = 'both' | 'new-right';

export interface ConsistencyPlan {
  /** The old root is the path's first hash (the old tree is a perfect subtree). */
  readonly startsWithOldRoot: boolean;
  /** One step for each path hash after the first. */
  readonly steps: readonly ConsistencyStep[];
}

// Halving in place of the RFC's right shift, so sizes past 2^31 stay exact.
const isOdd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

/**
 * The steps that take leaf `index`'s hash up to the root of a tree of `size` leaves with
 * a proof of `proofLength` hashes; undefined when no proof of that length can prove it
 * (the index outside the tree, too many or too few hashes).
 */
export function inclusionSteps(
  index: number,
  size: number,
  proofLength: number,
): readonly InclusionStep[] | undefined {
  assertTreeSize(index, 'leaf index');
  assertTreeSize(size, 'tree size');
  if (index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  const steps: InclusionStep[] = [];
  for (let i = 0; i < proofLength; i++) {
    if (sn === 0) return undefined;
    if (isOdd(fn) || fn === sn) {
      steps.push('proof-left');
      // Skip the levels where this node is a right-edge node with no sibling.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      steps.push('proof-right');
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? steps : undefined;
}

/**
 * The plan that checks a consistency proof of `proofLength` hashes from a tree of
 * `oldSize` leaves to one of `newSize` > `oldSize`; undefined when no proof of that
 * length can prove it (an old size of 0, one not smaller than the new, a wrong length).
 */
export function consistencyPlan(
  oldSize: number,
  newSize: number,
  proofLength: number,
): ConsistencyPlan | undefined {
  assertTreeSize(oldSize, 'old tree size');
  assertTreeSize(newSize, 'new tree size');
  if (oldSize === 0 || oldSize >= newSize || proofLength === 0) return undefined;
  // When the old tree is a perfect subtree of the new one, its root starts the path.
  const startsWithOldRoot = isPowerOfTwo(oldSize);
  const pathLength = proofLength + (startsWithOldRoot ? 1 : 0);
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const steps: ConsistencyStep[] = [];
  for (let i = 1; i < pathLength; i++) {
    if (sn === 0) return undefined;
    if (isOdd(fn) || fn === sn) {
      steps.push('both');
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      steps.push('new-right');
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? { startsWithOldRoot, steps } : undefined;
}

/** Throws unless n is a whole number a tree can have as a size or an index. */
export function assertTreeSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TreeRangeError(`${what} must be a non-negative safe integer, got ${n}`);
  }
}

/** Throws unless the hash is a SHA-256 hash. */
export function assertHash(hash: Uint8Array, what: string): void {
  if (hash.length !== HASH_SIZE) {
    throw new HashLengthError(`${what} must be ${HASH_SIZE} bytes, got ${hash.length}`);
  }
}

export function isHash(hash: Uint8Array): boolean {
  return hash.length === HASH_SIZE;
}

function isPowerOfTwo(n: number): boolean {
  let power = 1;
  while (power < n) power *= 2;
  return power === n;
}
