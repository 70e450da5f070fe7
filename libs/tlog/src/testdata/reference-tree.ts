// RFC 6962 §2.1.1 and §2.1.2 written as the RFC writes them, recursively over the leaf
// hashes, to check the stored-node proofs against. Tests only.
import { largestPowerOfTwoBelow, nodeHash, rootOf } from '../hashing';
import { type NodeHashReader } from '../node-reader';
import { appendLeaves, EMPTY_FRONTIER, type Frontier } from '../appender';
import { nodeKey } from '../tree-nodes';

/** PATH(m, D[n]). */
export function referenceInclusionProof(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  const n = leaves.length;
  if (n <= 1) return [];
  const k = largestPowerOfTwoBelow(n);
  return m < k
    ? [...referenceInclusionProof(m, leaves.slice(0, k)), rootOf(leaves.slice(k))]
    : [...referenceInclusionProof(m - k, leaves.slice(k)), rootOf(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function referenceConsistencyProof(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  return subproof(m, leaves, true);
}

function subproof(m: number, leaves: readonly Uint8Array[], whole: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return whole ? [] : [rootOf(leaves)];
  const k = largestPowerOfTwoBelow(n);
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), whole), rootOf(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), rootOf(leaves.slice(0, k))];
}

/** Leaf hashes that differ per position and per tree, so no two tests share data. */
export function distinctLeaves(count: number, label = 'leaf'): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    nodeHash(Buffer.alloc(32, i % 256), Buffer.from(`${label}-${i}`.padEnd(32, '.'))),
  );
}

/**
 * An in-memory stand-in for the audit service's node table: appends in batches of the
 * given sizes, keeps every node the appender hands back, and counts the reads.
 */
export class MemoryNodeStore implements NodeHashReader {
  readonly nodes = new Map<string, Uint8Array>();
  frontier: Frontier = EMPTY_FRONTIER;
  reads = 0;

  append(leaves: readonly Uint8Array[]): Uint8Array {
    const result = appendLeaves(this.frontier, leaves);
    for (const node of result.nodes) this.nodes.set(nodeKey(node), node.hash);
    this.frontier = result.frontier;
    return result.root;
  }

  async readNodeHashes(ids: readonly { level: number; index: number }[]): Promise<Uint8Array[]> {
    this.reads += 1;
    return ids.map((id) => {
      const hash = this.nodes.get(nodeKey(id));
      if (hash === undefined) throw new Error(`node ${nodeKey(id)} was never stored`);
      return hash;
    });
  }
}
