import { assertHash, assertTreeSize, largestPowerOfTwoBelow, nodeHash } from './hashing';
import { NodeReaderError, TreeRangeError } from './errors';
import { rangeNodes, type NodeId } from './tree-nodes';

/**
 * Which stored nodes make up a proof, and how. Each element of the proof is the hash
 * of the subtree its nodes cover, left to right: one node when that subtree is perfect,
 * several when it is an imperfect subtree on the right edge of the tree (an "ephemeral"
 * node, never stored, rebuilt from the perfect subtrees under it).
 */
export interface ProofPlan {
  /** The stored nodes to read, each once, in proof order: one batch read. */
  readonly nodeIds: readonly NodeId[];
  /** One entry per proof hash, naming the nodes it is made of. */
  readonly elements: readonly (readonly NodeId[])[];
}

/**
 * The nodes of the inclusion proof of leaf `index` in the tree of `size` leaves:
 * PATH(m, D[n]) of RFC 6962 §2.1.1, read as subtrees instead of recomputed.
 */
export function inclusionProofNodes(index: number, size: number): ProofPlan {
  assertTreeSize(index, 'leaf index');
  assertTreeSize(size, 'tree size');
  if (index >= size)
    throw new TreeRangeError(`leaf index ${index} is not in a tree of size ${size}`);
  const elements: NodeId[][] = [];
  // Walk from the root down to the leaf; each step's sibling subtree is one proof hash.
  // The RFC lists them leaf first, so they are gathered top down and reversed.
  let begin = 0;
  let end = size;
  while (end - begin > 1) {
    const split = begin + largestPowerOfTwoBelow(end - begin);
    if (index < split) {
      elements.push(rangeNodes(split, end));
      end = split;
    } else {
      elements.push(rangeNodes(begin, split));
      begin = split;
    }
  }
  return plan(elements.reverse());
}

/**
 * The nodes of the consistency proof from the tree of `oldSize` leaves to the tree of
 * `newSize`: PROOF(m, D[n]) of RFC 6962 §2.1.2. Equal sizes need no proof.
 */
export function consistencyProofNodes(oldSize: number, newSize: number): ProofPlan {
  assertTreeSize(oldSize, 'old tree size');
  assertTreeSize(newSize, 'new tree size');
  if (oldSize === 0) {
    throw new TreeRangeError('a consistency proof from the empty tree proves nothing');
  }
  if (oldSize > newSize) {
    throw new TreeRangeError(`old tree size ${oldSize} is larger than new tree size ${newSize}`);
  }
  const elements: NodeId[][] = [];
  // SUBPROOF(m, D[begin:end], oldIsWhole), walked top down and reversed like PATH.
  let begin = 0;
  let end = newSize;
  let oldIsWhole = true;
  while (oldSize !== end) {
    const split = begin + largestPowerOfTwoBelow(end - begin);
    if (oldSize <= split) {
      elements.push(rangeNodes(split, end));
      end = split;
    } else {
      elements.push(rangeNodes(begin, split));
      begin = split;
      oldIsWhole = false;
    }
  }
  // The old tree's last subtree is a proof hash unless it is the old tree itself,
  // whose root the verifier already has.
  if (!oldIsWhole) elements.push(rangeNodes(begin, end));
  return plan(elements.reverse());
}

/** Builds the proof from the hashes of plan.nodeIds, given in the same order. */
export function assembleProof(plan: ProofPlan, hashes: readonly Uint8Array[]): Uint8Array[] {
  if (hashes.length !== plan.nodeIds.length) {
    throw new NodeReaderError(`expected ${plan.nodeIds.length} node hashes, got ${hashes.length}`);
  }
  hashes.forEach((hash, i) => assertHash(hash, `node hash ${i}`));
  let next = 0;
  return plan.elements.map((element) => {
    const parts = hashes.slice(next, next + element.length);
    next += element.length;
    // The nodes' levels fall left to right, so the subtree's MTH splits off the first
    // node at each step: fold from the right.
    return parts.reduceRight((right, left) => nodeHash(left, right));
  });
}

function plan(elements: NodeId[][]): ProofPlan {
  return { nodeIds: elements.flat(), elements };
}
