import { assertHash, assertTreeSize, emptyRoot, nodeHash } from './hashing';
import { TreeRangeError } from './errors';
import { frontierNodes, type NodeId } from './tree-nodes';

/** A node hash to store under its (level, index). */
export interface StoredNode extends NodeId {
  readonly hash: Uint8Array;
}

/**
 * The state an appender needs: the tree size and the hashes of frontierNodes(size),
 * largest subtree first. It is at most 53 hashes, read back from storage in one batch.
 */
export interface Frontier {
  readonly size: number;
  readonly hashes: readonly Uint8Array[];
}

export interface AppendResult {
  /** Every perfect subtree completed by the batch, leaves included, in the order made. */
  readonly nodes: readonly StoredNode[];
  readonly frontier: Frontier;
  /** The root hash of the tree of frontier.size leaves. */
  readonly root: Uint8Array;
}

export const EMPTY_FRONTIER: Frontier = { size: 0, hashes: [] };

/**
 * Appends a batch of leaf hashes to the tree described by `frontier`. Pure: the caller
 * stores `nodes` and the new size together, in one transaction, so the stored tree
 * never holds half a batch.
 */
export function appendLeaves(frontier: Frontier, leafHashes: readonly Uint8Array[]): AppendResult {
  const stack = frontierStack(frontier);
  const nodes: StoredNode[] = [];
  let size = frontier.size;
  for (const hash of leafHashes) {
    assertHash(hash, `leaf hash ${size}`);
    let node: StoredNode = { level: 0, index: size, hash };
    nodes.push(node);
    // Like a binary counter's carry: a new node completes its parent whenever the node
    // to its left on the frontier is its sibling of the same level.
    for (let left = stack.at(-1); left !== undefined && left.level === node.level;) {
      stack.pop();
      node = { level: node.level + 1, index: left.index / 2, hash: nodeHash(left.hash, node.hash) };
      nodes.push(node);
      left = stack.at(-1);
    }
    stack.push(node);
    size += 1;
  }
  const next: Frontier = { size, hashes: stack.map((node) => node.hash) };
  return { nodes, frontier: next, root: frontierRoot(next) };
}

/** The root hash of the tree a frontier describes (RFC 6962 MTH, computed from the right). */
export function frontierRoot(frontier: Frontier): Uint8Array {
  frontierStack(frontier);
  const { hashes } = frontier;
  let root = hashes.at(-1);
  if (root === undefined) return emptyRoot();
  for (let i = hashes.length - 2; i >= 0; i--) root = nodeHash(hashes[i] as Uint8Array, root);
  return root;
}

function frontierStack(frontier: Frontier): StoredNode[] {
  assertTreeSize(frontier.size, 'frontier size');
  const ids = frontierNodes(frontier.size);
  if (ids.length !== frontier.hashes.length) {
    throw new TreeRangeError(
      `a tree of size ${frontier.size} has ${ids.length} frontier hashes, got ${frontier.hashes.length}`,
    );
  }
  return ids.map((id, i) => {
    const hash = frontier.hashes[i] as Uint8Array;
    assertHash(hash, `frontier hash ${i}`);
    return { ...id, hash };
  });
}
