import { assertHash, assertTreeSize, HASH_SIZE, nodeHash } from './hashing';
import { NodeReaderError, MalformedTileError, TreeRangeError } from './errors';
import type { NodeHashReader } from './node-reader';
import type { NodeId } from './tree-nodes';

/**
 * The tree stored and served as tiles (c2sp.org/tlog-tiles): a tile at tile level `l`
 * holds up to 256 consecutive hashes of tree level 8·l, the leaves of a subtree of
 * height 8. The seven tree levels between are not stored; they are rebuilt from the
 * tile's hashes when read. Tiles fill left to right: every tile but the rightmost of
 * its level is full (256 hashes), and a partial tile of width W is the first W hashes
 * of the full tile it grows into, so one stored row per tile serves every width.
 */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 2 ** TILE_HEIGHT;
/** The spec's bound on a tile's level (a decimal between 0 and 63). */
export const MAX_TILE_LEVEL = 63;

/** A tile's address: its level and its index within the level. */
export interface TileId {
  readonly level: number;
  readonly index: number;
}

/** A tile of a given width: 1 to 255 is partial, TILE_WIDTH is full. */
export interface SizedTile extends TileId {
  readonly width: number;
}

/**
 * Hashes appended to one tile by one append: `hashes` go at positions `start`,
 * `start + 1`, … of tile (level, index), so the tile's width becomes start + hashes.length.
 */
export interface TileAppend extends TileId {
  readonly start: number;
  readonly hashes: readonly Uint8Array[];
}

/**
 * What an append adds to the stored tiles, from the perfect subtrees it completed
 * (appendLeaves' `nodes`, in the order made): the nodes of tree levels 0, 8, 16, … go
 * into tiles, the others are dropped. One TileAppend per tile touched, in first-touched
 * order; a batch that crosses a tile boundary touches both tiles.
 */
export function tileAppends(
  nodes: readonly (NodeId & { readonly hash: Uint8Array })[],
): TileAppend[] {
  const byTile = new Map<
    string,
    { level: number; index: number; start: number; hashes: Uint8Array[] }
  >();
  for (const node of nodes) {
    if (node.level % TILE_HEIGHT !== 0) continue;
    assertHash(node.hash, `node ${node.level}/${node.index}`);
    const level = node.level / TILE_HEIGHT;
    const index = Math.floor(node.index / TILE_WIDTH);
    const position = node.index % TILE_WIDTH;
    const key = `${level}/${index}`;
    const tile = byTile.get(key);
    if (!tile) {
      byTile.set(key, { level, index, start: position, hashes: [node.hash] });
    } else if (tile.start + tile.hashes.length === position) {
      tile.hashes.push(node.hash);
    } else {
      throw new TreeRangeError(
        `node ${node.level}/${node.index} does not follow the tile's last hash`,
      );
    }
  }
  return [...byTile.values()];
}

/**
 * The tiles of the tree of `size` leaves, each at its width in that tree: for every tile
 * level, the full tiles and then the partial one (when the level's hash count is not a
 * multiple of 256). A tree of 70,000 leaves has 273 full and one partial (112) tile at
 * level 0, one full and one partial (17) at level 1 and a partial (1) at level 2.
 */
export function tilesOfTree(size: number): SizedTile[] {
  assertTreeSize(size, 'tree size');
  const tiles: SizedTile[] = [];
  for (let level = 0; ; level++) {
    const hashes = hashesAtTileLevel(size, level);
    if (hashes === 0) break;
    for (let index = 0; index * TILE_WIDTH < hashes; index++) {
      tiles.push({ level, index, width: Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH) });
    }
  }
  return tiles;
}

/** How many hashes tile level `level` holds in the tree of `size` leaves: floor(size / 256^level). */
export function hashesAtTileLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * The width of tile (level, index) in the tree of `size` leaves: TILE_WIDTH when full,
 * 1 to 255 when partial, 0 when the tree does not reach it.
 */
export function tileWidthInTree(tile: TileId, size: number): number {
  const hashes = hashesAtTileLevel(size, tile.level) - tile.index * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, hashes));
}

/** Where a tree node is found in the tiles: its tile, and the tile hashes it covers. */
export interface NodeInTile {
  readonly tile: TileId;
  /** The node's height above the tile's hashes, 0 to 7. */
  readonly height: number;
  /** The first of the 2^height tile hashes the node is the Merkle tree hash of. */
  readonly first: number;
}

/** The tile a tree node is read from, and where in it. */
export function nodeInTile(id: NodeId): NodeInTile {
  assertTreeSize(id.level, 'node level');
  assertTreeSize(id.index, 'node index');
  const level = Math.floor(id.level / TILE_HEIGHT);
  const height = id.level - level * TILE_HEIGHT;
  const position = id.index * 2 ** height;
  return {
    tile: { level, index: Math.floor(position / TILE_WIDTH) },
    height,
    first: position % TILE_WIDTH,
  };
}

/**
 * The hash of the tree node a tile holds: the Merkle tree hash of the 2^height tile
 * hashes from `first`. `tileHashes` is the tile's bytes (32 per hash, as stored and
 * served); a tile too narrow to hold the node throws.
 */
export function nodeHashFromTile(tileHashes: Uint8Array, node: NodeInTile): Uint8Array {
  return new TileLevels(tileHashes).hash(node.height, node.first / 2 ** node.height);
}

/**
 * The levels of one tile's subtree, computed once and on demand: level 0 is the tile's
 * own hashes, level h the hashes of its perfect subtrees of height h.
 */
class TileLevels {
  private readonly levels: Uint8Array[][];

  constructor(bytes: Uint8Array) {
    if (bytes.length % HASH_SIZE !== 0 || bytes.length > TILE_WIDTH * HASH_SIZE) {
      throw new NodeReaderError(
        `a tile must be up to ${TILE_WIDTH} hashes, got ${bytes.length} bytes`,
      );
    }
    const hashes: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += HASH_SIZE)
      hashes.push(bytes.subarray(at, at + HASH_SIZE));
    this.levels = [hashes];
  }

  hash(height: number, index: number): Uint8Array {
    for (let h = this.levels.length; h <= height; h++) {
      const below = this.levels[h - 1] as Uint8Array[];
      const level: Uint8Array[] = [];
      for (let i = 0; i + 1 < below.length; i += 2) {
        level.push(nodeHash(below[i] as Uint8Array, below[i + 1] as Uint8Array));
      }
      this.levels.push(level);
    }
    const hash = this.levels[height]?.[index];
    if (!hash) {
      const width = this.levels[0]?.length ?? 0;
      throw new NodeReaderError(
        `a tile of width ${width} does not hold the subtree of height ${height} at ${index}`,
      );
    }
    return hash;
  }
}

/**
 * The port through which tiles are read from storage: the stored bytes of each tile
 * asked for (its hashes so far, 32 bytes each), or undefined for a tile not stored.
 */
export interface TileStore {
  readTiles(tiles: readonly TileId[]): Promise<readonly (Uint8Array | undefined)[]>;
}

/**
 * Node hashes read out of tiles: every node a proof, a root or a frontier needs is read
 * from the tile that holds it, each tile once per batch. This is the NodeHashReader the
 * proofs of node-reader.ts run on when the tree is stored as tiles.
 */
export function tileNodeReader(store: TileStore): NodeHashReader {
  return {
    async readNodeHashes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
      const places = ids.map(nodeInTile);
      const tiles = new Map<string, TileId>();
      for (const { tile } of places) tiles.set(tileKey(tile), tile);
      const wanted = [...tiles.values()];
      const bytes = wanted.length === 0 ? [] : await store.readTiles(wanted);
      if (bytes.length !== wanted.length) {
        throw new NodeReaderError(`expected ${wanted.length} tiles, got ${bytes.length}`);
      }
      const levels = new Map<string, TileLevels>();
      wanted.forEach((tile, i) => {
        const tileBytes = bytes[i];
        if (tileBytes) levels.set(tileKey(tile), new TileLevels(tileBytes));
      });
      return places.map((place, i) => {
        const tile = levels.get(tileKey(place.tile));
        if (!tile) {
          const id = ids[i] as NodeId;
          throw new NodeReaderError(
            `tree node ${id.level}/${id.index} is in tile ${tileKey(place.tile)}, which is not stored`,
          );
        }
        return tile.hash(place.height, place.first / 2 ** place.height);
      });
    },
  };
}

/** A printable key for a tile, for maps and messages: `level/index`. */
export function tileKey(tile: TileId): string {
  return `${tile.level}/${tile.index}`;
}

/** What a tile path names: a tile of hashes, or a bundle of entries (level 0's leaves). */
export type TileResource =
  | { readonly kind: 'hashes'; readonly tile: SizedTile }
  | { readonly kind: 'entries'; readonly tile: SizedTile };

/** The most 3-digit elements an index below 2^53 takes (9,007,199,254,740,991). */
const MAX_INDEX_ELEMENTS = 6;

/**
 * `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, with N in 3-digit elements, all
 * but the last prefixed with `x` (1234067 is x001/x234/067).
 */
export function tilePath(resource: TileResource): string {
  const { tile } = resource;
  assertTreeSize(tile.index, 'tile index');
  if (!Number.isInteger(tile.width) || tile.width < 1 || tile.width > TILE_WIDTH) {
    throw new TreeRangeError(`a tile's width is 1 to ${TILE_WIDTH}, got ${tile.width}`);
  }
  if (
    resource.kind === 'hashes' &&
    !(Number.isInteger(tile.level) && tile.level >= 0 && tile.level <= MAX_TILE_LEVEL)
  ) {
    throw new TreeRangeError(`a tile's level is 0 to ${MAX_TILE_LEVEL}, got ${tile.level}`);
  }
  const elements: string[] = [];
  let rest = tile.index;
  do {
    elements.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  const index = elements.map((element, i) => (i < elements.length - 1 ? `x${element}` : element));
  const level = resource.kind === 'entries' ? 'entries' : String(tile.level);
  const partial = tile.width < TILE_WIDTH ? `.p/${tile.width}` : '';
  return `tile/${level}/${index.join('/')}${partial}`;
}

const LEVEL = /^(?:0|[1-9]\d?)$/;
const WIDTH = /^[1-9]\d{0,2}$/;
const INNER_ELEMENT = /^x\d{3}$/;
const LAST_ELEMENT = /^\d{3}$/;

/**
 * Reads a tile path (what follows the log's prefix, without a leading slash) exactly as
 * tlog-tiles writes it; anything else throws MalformedTileError, naming what is wrong. Levels
 * go to 63, widths 1 to 255, and indexes stay below 2^53 (at most six elements).
 */
export function parseTilePath(path: string): TileResource {
  const parts = path.split('/');
  if (parts[0] !== 'tile' || parts.length < 3) {
    throw new MalformedTileError('a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]');
  }
  const levelPart = parts[1] as string;
  let elements = parts.slice(2);
  let width = TILE_WIDTH;
  const last = elements.at(-1) as string;
  if (elements.length >= 2 && (elements.at(-2) as string).endsWith('.p')) {
    if (!WIDTH.test(last) || Number(last) >= TILE_WIDTH) {
      throw new MalformedTileError(
        `a partial tile's width is 1 to ${TILE_WIDTH - 1}, without leading zeroes`,
      );
    }
    width = Number(last);
    elements = elements.slice(0, -1);
    elements[elements.length - 1] = (elements.at(-1) as string).slice(0, -'.p'.length);
  }
  if (elements.length > MAX_INDEX_ELEMENTS) {
    throw new MalformedTileError(`a tile index has at most ${MAX_INDEX_ELEMENTS} elements`);
  }
  const wellFormed = elements.every((element, i) =>
    (i < elements.length - 1 ? INNER_ELEMENT : LAST_ELEMENT).test(element),
  );
  if (!wellFormed) {
    throw new MalformedTileError(
      'a tile index is 3-digit elements, all but the last starting with x',
    );
  }
  const index = elements.reduce((n, element) => n * 1000 + Number(element.replace('x', '')), 0);
  if (!Number.isSafeInteger(index)) throw new MalformedTileError('the tile index is too large');
  // One way to write each index: no leading element of zeroes.
  if (elements.length > 1 && index < 1000 ** (elements.length - 1)) {
    throw new MalformedTileError('a tile index has no leading zero elements');
  }
  if (levelPart === 'entries') return { kind: 'entries', tile: { level: 0, index, width } };
  if (!LEVEL.test(levelPart) || Number(levelPart) > MAX_TILE_LEVEL) {
    throw new MalformedTileError(
      `a tile's level is 0 to ${MAX_TILE_LEVEL}, without leading zeroes`,
    );
  }
  return { kind: 'hashes', tile: { level: Number(levelPart), index, width } };
}

/** The most bytes one entry of a bundle can have: its length is a big-endian uint16. */
export const MAX_BUNDLED_ENTRY_BYTES = 0xffff;

/** An entry bundle: each entry prefixed with its length as a big-endian uint16. */
export function entryBundle(entries: readonly Uint8Array[]): Uint8Array {
  const total = entries.reduce((sum, entry) => sum + 2 + entry.length, 0);
  const bundle = new Uint8Array(total);
  let at = 0;
  for (const entry of entries) {
    if (entry.length > MAX_BUNDLED_ENTRY_BYTES) {
      throw new TreeRangeError(`an entry of ${entry.length} bytes does not fit an entry bundle`);
    }
    bundle[at] = entry.length >> 8;
    bundle[at + 1] = entry.length & 0xff;
    bundle.set(entry, at + 2);
    at += 2 + entry.length;
  }
  return bundle;
}

/** The entries of a bundle; a bundle that does not end on an entry's end throws. */
export function parseEntryBundle(bundle: Uint8Array): Uint8Array[] {
  const entries: Uint8Array[] = [];
  for (let at = 0; at < bundle.length;) {
    if (at + 2 > bundle.length)
      throw new MalformedTileError('an entry bundle ends inside a length');
    const length = ((bundle[at] as number) << 8) | (bundle[at + 1] as number);
    if (at + 2 + length > bundle.length)
      throw new MalformedTileError('an entry bundle ends inside an entry');
    entries.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}
