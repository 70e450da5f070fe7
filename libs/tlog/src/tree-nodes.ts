import { assertTreeSize } from './hashing';
import { TreeRangeError } from './errors';

/**
 * The address of a perfect subtree: `level` 0 is a leaf, and the node at (level, index)
 * covers leaves [index·2^level, (index+1)·2^level). This is the key under which the
 * audit service stores node hashes.
 *
 * Positions are plain numbers and the arithmetic below avoids JavaScript's 32-bit bit
 * operators, so trees stay exact up to 2^53 leaves, past where `>>` would wrap at 2^31.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** The leaves [begin, end) that a node covers. */
export function nodeCoverage(id: NodeId): { begin: number; end: number } {
  const width = 2 ** id.level;
  return { begin: id.index * width, end: (id.index + 1) * width };
}

/**
 * The fewest perfect subtrees that exactly cover the leaves [begin, end), left to right
 * (transparency-dev's "compact range"). Levels rise then fall along the range; for
 * begin 0 they only fall, and that list is the right frontier of a tree of size end.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  assertTreeSize(begin, 'range begin');
  assertTreeSize(end, 'range end');
  if (begin > end) throw new TreeRangeError(`range begin ${begin} is after its end ${end}`);
  const ids: NodeId[] = [];
  for (let position = begin; position < end;) {
    // The largest subtree that starts at position (aligned to its width) and fits.
    let level = 0;
    while (position % 2 ** (level + 1) === 0 && position + 2 ** (level + 1) <= end) level++;
    ids.push({ level, index: position / 2 ** level });
    position += 2 ** level;
  }
  return ids;
}

/**
 * The perfect subtrees along the right edge of a tree of `size` leaves, largest first:
 * one per set bit of the size. Their hashes are all an appender needs to go on, and
 * folding them from the right gives the root.
 */
export function frontierNodes(size: number): NodeId[] {
  return rangeNodes(0, size);
}

/** A printable key for a node, for maps and messages. */
export function nodeKey(id: NodeId): string {
  return `${id.level}/${id.index}`;
}
