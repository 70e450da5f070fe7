import { type Frontier, frontierRoot } from './appender';
import {
  assembleProof,
  consistencyProofNodes,
  inclusionProofNodes,
  type ProofPlan,
} from './proof-nodes';
import { assertHash } from './hashing';
import { NodeReaderError } from './errors';
import { frontierNodes, type NodeId } from './tree-nodes';

/**
 * The port through which proofs are read from storage (the audit service implements it
 * over its PostgreSQL table of node hashes). It returns one 32-byte hash per id, in the
 * order asked; every id it is asked for is a perfect subtree of a tree already stored.
 */
export interface NodeHashReader {
  readNodeHashes(ids: readonly NodeId[]): Promise<readonly Uint8Array[]>;
}

/** Reads a planned proof's nodes in one batch and assembles the proof hashes. */
export async function readProof(reader: NodeHashReader, plan: ProofPlan): Promise<Uint8Array[]> {
  const hashes = plan.nodeIds.length === 0 ? [] : await reader.readNodeHashes(plan.nodeIds);
  return assembleProof(plan, hashes);
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves, from storage. */
export function readInclusionProof(
  reader: NodeHashReader,
  index: number,
  size: number,
): Promise<Uint8Array[]> {
  return readProof(reader, inclusionProofNodes(index, size));
}

/** The consistency proof from the tree of `oldSize` leaves to that of `newSize`, from storage. */
export function readConsistencyProof(
  reader: NodeHashReader,
  oldSize: number,
  newSize: number,
): Promise<Uint8Array[]> {
  return readProof(reader, consistencyProofNodes(oldSize, newSize));
}

/** The frontier of the stored tree of `size` leaves, to go on appending after a restart. */
export async function readFrontier(reader: NodeHashReader, size: number): Promise<Frontier> {
  const ids = frontierNodes(size);
  const hashes = ids.length === 0 ? [] : await reader.readNodeHashes(ids);
  if (hashes.length !== ids.length) {
    throw new NodeReaderError(`expected ${ids.length} node hashes, got ${hashes.length}`);
  }
  hashes.forEach((hash, i) => assertHash(hash, `node hash ${i}`));
  return { size, hashes };
}

/** The root hash of the stored tree of `size` leaves, for any size the log has had. */
export async function readRoot(reader: NodeHashReader, size: number): Promise<Uint8Array> {
  return frontierRoot(await readFrontier(reader, size));
}
