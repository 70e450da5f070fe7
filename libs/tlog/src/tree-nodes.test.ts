import { describe, expect, it } from 'vitest';
import { TreeRangeError } from './errors';
import { frontierNodes, nodeCoverage, rangeNodes } from './tree-nodes';

describe('rangeNodes', () => {
  it('covers a range with the fewest perfect subtrees, left to right', () => {
    expect(rangeNodes(3, 13)).toEqual([
      { level: 0, index: 3 },
      { level: 2, index: 1 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
  });

  it('gives the right frontier of a tree, one subtree per set bit of the size', () => {
    expect(frontierNodes(13)).toEqual([
      { level: 3, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    expect(frontierNodes(16)).toEqual([{ level: 4, index: 0 }]);
    expect(frontierNodes(0)).toEqual([]);
  });

  it('tiles every range of up to 70 leaves exactly, with no gap or overlap', () => {
    for (let begin = 0; begin <= 70; begin++) {
      for (let end = begin; end <= 70; end++) {
        let next = begin;
        for (const id of rangeNodes(begin, end)) {
          const covered = nodeCoverage(id);
          expect(covered.begin).toBe(next);
          next = covered.end;
        }
        expect(next).toBe(end);
      }
    }
  });

  it('stays exact for trees larger than 2^32 leaves', () => {
    const size = 2 ** 40 + 2 ** 33 + 5;
    expect(frontierNodes(size)).toEqual([
      { level: 40, index: 0 },
      { level: 33, index: 2 ** 7 },
      { level: 2, index: (2 ** 40 + 2 ** 33) / 4 },
      { level: 0, index: size - 1 },
    ]);
  });

  it('refuses a range that ends before it begins or is not whole', () => {
    expect(() => rangeNodes(5, 4)).toThrow(TreeRangeError);
    expect(() => rangeNodes(0, 1.5)).toThrow(TreeRangeError);
    expect(() => rangeNodes(-1, 4)).toThrow(TreeRangeError);
  });
});
