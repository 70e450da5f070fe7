import { describe, expect, it } from 'vitest';
import { appendLeaves, EMPTY_FRONTIER, type Frontier } from './appender';
import { MalformedTileError, NodeReaderError } from './errors';
import { leafHash, rootOf } from './hashing';
import { readConsistencyProof, readFrontier, readInclusionProof, readRoot } from './node-reader';
import {
  entryBundle,
  parseEntryBundle,
  parseTilePath,
  tileAppends,
  tileKey,
  tileNodeReader,
  tilePath,
  tilesOfTree,
  tileWidthInTree,
  type TileId,
  type TileStore,
} from './tiles';
import { LEAF_INPUTS, NODE_HASHES, ROOTS } from './testdata/rfc6962';
import {
  distinctLeaves,
  MemoryNodeStore,
  referenceConsistencyProof,
  referenceInclusionProof,
} from './testdata/reference-tree';
import { frontierNodes } from './tree-nodes';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Tiles kept as the audit service keeps them: one growing byte string per tile. */
class MemoryTileStore implements TileStore {
  readonly tiles = new Map<string, Uint8Array>();
  frontier: Frontier = EMPTY_FRONTIER;
  reads = 0;

  append(leaves: readonly Uint8Array[]): void {
    const result = appendLeaves(this.frontier, leaves);
    for (const write of tileAppends(result.nodes)) {
      const before = this.tiles.get(tileKey(write)) ?? new Uint8Array();
      // The store's own check: hashes go exactly where the tile ends.
      expect(before.length / 32).toBe(write.start);
      this.tiles.set(tileKey(write), Buffer.concat([before, ...write.hashes]));
    }
    this.frontier = result.frontier;
  }

  async readTiles(ids: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
    this.reads += 1;
    return ids.map((id) => this.tiles.get(tileKey(id)));
  }
}

/** The same leaves in both stores, appended in batches of pseudo-random sizes. */
function twoStores(leaves: readonly Uint8Array[], seed: number) {
  const nodes = new MemoryNodeStore();
  const tiles = new MemoryTileStore();
  let state = seed;
  for (let at = 0; at < leaves.length;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const batch = Math.min(leaves.length - at, 1 + (state % 300));
    nodes.append(leaves.slice(at, at + batch));
    tiles.append(leaves.slice(at, at + batch));
    at += batch;
  }
  return { nodes, tiles };
}

describe('tile paths (c2sp.org/tlog-tiles)', () => {
  it('writes indexes in 3-digit elements, x-prefixed but the last, and .p/W for partial tiles', () => {
    expect(tilePath({ kind: 'hashes', tile: { level: 0, index: 1234067, width: 256 } })).toBe(
      'tile/0/x001/x234/067',
    );
    expect(tilePath({ kind: 'hashes', tile: { level: 2, index: 0, width: 1 } })).toBe(
      'tile/2/000.p/1',
    );
    expect(tilePath({ kind: 'entries', tile: { level: 0, index: 1000, width: 255 } })).toBe(
      'tile/entries/x001/000.p/255',
    );
  });

  it('reads back every path it writes', () => {
    for (const index of [0, 7, 999, 1000, 1234067, Number.MAX_SAFE_INTEGER]) {
      for (const width of [1, 112, 255, 256]) {
        for (const resource of [
          { kind: 'hashes', tile: { level: 3, index, width } },
          { kind: 'entries', tile: { level: 0, index, width } },
        ] as const) {
          expect(parseTilePath(tilePath(resource))).toEqual(resource);
        }
      }
    }
  });

  it.each([
    ['tile/0/1', 'not 3 digits'],
    ['tile/0/x001', 'x on the last element'],
    ['tile/0/001/234', 'no x on an inner element'],
    ['tile/0/x000/001', 'a leading zero element'],
    ['tile/00/001', 'a level with a leading zero'],
    ['tile/64/001', 'a level above 63'],
    ['tile/-1/001', 'a negative level'],
    ['tile/0/001.p/0', 'width 0'],
    ['tile/0/001.p/256', 'width 256 as partial'],
    ['tile/0/001.p/05', 'a width with a leading zero'],
    ['tile/0/001.p/', 'no width'],
    ['tile/0/x009/x007/x199/x254/x740/x992/000', 'seven elements'],
    ['tile/0/x009/x007/x199/x254/x740/992', 'an index past 2^53'],
    ['tile/0/../001', 'a traversal'],
    ['tile/data/001', 'Go sumdb data tiles'],
    ['tile/8/0/001', "Go sumdb's height element"],
    ['tiles/0/001', 'another prefix'],
    ['tile/0', 'no index'],
  ])('refuses %s (%s)', (path) => {
    expect(() => parseTilePath(path)).toThrow(MalformedTileError);
  });
});

describe('the tiles of a tree', () => {
  it("are the spec's example: 70,000 leaves", () => {
    const tiles = tilesOfTree(70_000);
    const level = (l: number) => tiles.filter((tile) => tile.level === l);
    expect(level(0)).toHaveLength(274);
    expect(level(0).filter((tile) => tile.width === 256)).toHaveLength(273);
    expect(level(0).at(-1)).toEqual({ level: 0, index: 273, width: 112 });
    expect(level(1)).toEqual([
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
    ]);
    expect(level(2)).toEqual([{ level: 2, index: 0, width: 1 }]);
    expect(tiles.filter((tile) => tile.level > 2)).toEqual([]);
  });

  it('of 256 leaves are one full tile and a partial tile of width 1 above it', () => {
    expect(tilesOfTree(256)).toEqual([
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    expect(tileWidthInTree({ level: 0, index: 1 }, 256)).toBe(0);
    expect(tileWidthInTree({ level: 0, index: 1 }, 300)).toBe(44);
  });

  it('are what the appends stored, tile for tile, at the widths of the final tree', async () => {
    const leaves = distinctLeaves(70_000, 'layout');
    const { tiles } = twoStores(leaves, 7);
    const expected = tilesOfTree(70_000);
    expect([...tiles.tiles.keys()].sort()).toEqual(expected.map(tileKey).sort());
    for (const tile of expected)
      expect(tiles.tiles.get(tileKey(tile))?.length).toBe(tile.width * 32);
    // A level-1 hash is the root of the full level-0 tile below it.
    const level1 = tiles.tiles.get('1/0') as Uint8Array;
    expect(hex(level1.subarray(32 * 5, 32 * 6))).toBe(hex(rootOf(leaves.slice(5 * 256, 6 * 256))));
  });
});

describe('tile appends', () => {
  it('split a batch that crosses a tile boundary, and carry level-8 nodes up', () => {
    const leaves = distinctLeaves(300, 'cross');
    const first = appendLeaves(EMPTY_FRONTIER, leaves.slice(0, 250));
    expect(tileAppends(first.nodes)).toEqual([
      { level: 0, index: 0, start: 0, hashes: leaves.slice(0, 250) },
    ]);
    const second = appendLeaves(first.frontier, leaves.slice(250));
    const writes = tileAppends(second.nodes);
    expect(
      writes.map(({ level, index, start, hashes }) => [level, index, start, hashes.length]),
    ).toEqual([
      [0, 0, 250, 6],
      [1, 0, 0, 1],
      [0, 1, 0, 44],
    ]);
    expect(hex(writes[1]!.hashes[0]!)).toBe(hex(rootOf(leaves.slice(0, 256))));
  });
});

describe('node hashes read out of tiles', () => {
  it('are the RFC 6962 test tree', async () => {
    const store = new MemoryTileStore();
    store.append(LEAF_INPUTS.map(leafHash));
    const reader = tileNodeReader(store);
    for (const [level, hashes] of NODE_HASHES.entries()) {
      const read = await reader.readNodeHashes(hashes.map((_, index) => ({ level, index })));
      expect(read.map(hex)).toEqual(hashes.map(hex));
    }
    for (const [size, root] of ROOTS.entries()) {
      expect(hex(await readRoot(reader, size))).toBe(hex(root));
    }
  });

  it('equal the stored nodes of the same random trees, every node, in one read of tiles', async () => {
    for (const [size, seed] of [
      [1, 1],
      [255, 2],
      [256, 3],
      [257, 4],
      [700, 5],
      [5_000, 6],
    ] as const) {
      const { nodes, tiles } = twoStores(distinctLeaves(size, `random-${seed}`), seed);
      const ids = [...nodes.nodes.keys()].map((key) => {
        const [level, index] = key.split('/').map(Number);
        return { level: level as number, index: index as number };
      });
      const before = tiles.reads;
      const fromTiles = await tileNodeReader(tiles).readNodeHashes(ids);
      expect(tiles.reads - before).toBe(1);
      expect(fromTiles.map(hex)).toEqual((await nodes.readNodeHashes(ids)).map(hex));
    }
  });

  it('give the proofs and roots the node store gives, and the RFC, on random trees', async () => {
    const size = 3_000;
    const leaves = distinctLeaves(size, 'proofs');
    const { nodes, tiles } = twoStores(leaves, 11);
    const reader = tileNodeReader(tiles);
    let state = 99;
    const random = (below: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % below;
    };
    for (let probe = 0; probe < 40; probe++) {
      const treeSize = 1 + random(size);
      const index = random(treeSize);
      const oldSize = 1 + random(treeSize);
      const inclusion = await readInclusionProof(reader, index, treeSize);
      expect(inclusion.map(hex)).toEqual(
        (await readInclusionProof(nodes, index, treeSize)).map(hex),
      );
      const consistency = await readConsistencyProof(reader, oldSize, treeSize);
      expect(consistency.map(hex)).toEqual(
        (await readConsistencyProof(nodes, oldSize, treeSize)).map(hex),
      );
      expect(hex(await readRoot(reader, treeSize))).toBe(hex(await readRoot(nodes, treeSize)));
    }
    // And against the RFC's recursive definitions, at and across tile boundaries.
    for (const [index, treeSize, oldSize] of [
      [0, 256, 1],
      [255, 257, 255],
      [256, 513, 256],
      [511, 2_999, 512],
    ] as const) {
      const inTree = leaves.slice(0, treeSize);
      expect((await readInclusionProof(reader, index, treeSize)).map(hex)).toEqual(
        referenceInclusionProof(index, inTree).map(hex),
      );
      expect((await readConsistencyProof(reader, oldSize, treeSize)).map(hex)).toEqual(
        referenceConsistencyProof(oldSize, inTree).map(hex),
      );
    }
    const frontier = await readFrontier(reader, size);
    expect(frontier.hashes.length).toBe(frontierNodes(size).length);
  });

  it('refuse a node whose tile is missing or too narrow', async () => {
    const store = new MemoryTileStore();
    store.append(distinctLeaves(300, 'narrow'));
    const reader = tileNodeReader(store);
    await expect(reader.readNodeHashes([{ level: 0, index: 300 }])).rejects.toThrow(
      NodeReaderError,
    );
    await expect(reader.readNodeHashes([{ level: 0, index: 600 }])).rejects.toThrow(
      NodeReaderError,
    );
    await expect(reader.readNodeHashes([{ level: 8, index: 1 }])).rejects.toThrow(NodeReaderError);
  });
});

describe('entry bundles', () => {
  it('frame each entry with its length as a big-endian uint16, and read back', () => {
    const entries = [new Uint8Array(), Uint8Array.of(7), new Uint8Array(300).fill(1)];
    const bundle = entryBundle(entries);
    expect(hex(bundle.subarray(0, 5))).toBe('0000000107');
    expect(hex(bundle.subarray(5, 7))).toBe('012c');
    expect(parseEntryBundle(bundle).map(hex)).toEqual(entries.map(hex));
    expect(() => parseEntryBundle(bundle.subarray(0, bundle.length - 1))).toThrow(
      MalformedTileError,
    );
  });

  it('refuse an entry too long for its length prefix', () => {
    expect(() => entryBundle([new Uint8Array(65_536)])).toThrow(/does not fit/);
  });
});
