import type { Queryable } from '@vaxguard/db';
import {
  HASH_SIZE,
  tileAppends,
  tileKey,
  tileNodeReader,
  TILE_WIDTH,
  type NodeHashReader,
  type StoredNode,
  type TileAppend,
  type TileId,
  type TileStore,
} from '@vaxguard/tlog';

const columns = (writes: readonly TileAppend[]) => [
  writes.map((w) => w.level),
  writes.map((w) => w.index),
];
const hashesOf = (writes: readonly TileAppend[]) => [
  writes.map((w) => w.hashes.length),
  writes.map((w) => Buffer.concat(w.hashes)),
];

/**
 * The log's tree in PostgreSQL as C2SP tlog-tiles (audit_log_tiles, tilesMigration):
 * one row per tile, its hashes so far. An append adds each tile's new hashes at its
 * end in one statement; the rightmost tile of a level grows in place, the others are
 * full and never written again. Node hashes are read out of the tiles (tileNodeReader),
 * each tile once per batch.
 */
export class PgTileStore implements TileStore {
  constructor(private readonly db: Queryable) {}

  /**
   * Stores the hashes the appended nodes add to their tiles; runs in the append's
   * transaction, which holds the log's head locked. A tile that does not end exactly
   * where the new hashes begin (a gap, or hashes already there) fails the append.
   */
  async append(nodes: readonly StoredNode[]): Promise<void> {
    const writes = tileAppends(nodes);
    const extended = writes.filter((w) => w.start > 0);
    const started = writes.filter((w) => w.start === 0);
    // A tile's new hashes go at its end: an existing tile must end at `start` exactly,
    // a new one starts at hash 0 and must not exist yet. Anything else (a gap, hashes
    // already there) is refused, seen in the row counts.
    let updated = 0;
    if (extended.length > 0) {
      const result = await this.db.query(
        `UPDATE audit_log_tiles t
            SET hashes = t.hashes || w.hashes, width = t.width + w.added
           FROM unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::smallint[], $5::bytea[])
             AS w(level, tile_index, start, added, hashes)
          WHERE t.level = w.level AND t.tile_index = w.tile_index AND t.width = w.start`,
        [...columns(extended), extended.map((w) => w.start), ...hashesOf(extended)],
      );
      updated = result.rowCount ?? 0;
    }
    let inserted = 0;
    if (started.length > 0) {
      const result = await this.db.query(
        `INSERT INTO audit_log_tiles (level, tile_index, width, hashes)
         SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::smallint[], $4::bytea[])
         ON CONFLICT (level, tile_index) DO NOTHING`,
        [...columns(started), ...hashesOf(started)],
      );
      inserted = result.rowCount ?? 0;
    }
    if (updated !== extended.length || inserted !== started.length) {
      throw new Error(
        `the stored tiles do not end where the appended hashes begin (${writes.map(tileKey).join(', ')})`,
      );
    }
  }

  /** The stored bytes of each tile asked for, in order; undefined for a tile not stored. */
  async readTiles(tiles: readonly TileId[]): Promise<(Uint8Array | undefined)[]> {
    const { rows } = await this.db.query<{ level: number; tile_index: string; hashes: Buffer }>(
      `SELECT t.level, t.tile_index, t.hashes
         FROM unnest($1::smallint[], $2::bigint[]) AS wanted(level, tile_index)
         JOIN audit_log_tiles t USING (level, tile_index)`,
      [tiles.map((tile) => tile.level), tiles.map((tile) => tile.index)],
    );
    const found = new Map(rows.map((row) => [`${row.level}/${row.tile_index}`, row.hashes]));
    return tiles.map((tile) => found.get(tileKey(tile)));
  }

  /** The stored leaf hashes with start <= index < end, by index, from the level-0 tiles. */
  async leafHashes(start: number, end: number): Promise<Map<number, Uint8Array>> {
    const leaves = new Map<number, Uint8Array>();
    if (end <= start) return leaves;
    const { rows } = await this.db.query<{ tile_index: string; hashes: Buffer }>(
      `SELECT tile_index, hashes FROM audit_log_tiles
        WHERE level = 0 AND tile_index >= $1 AND tile_index <= $2`,
      [Math.floor(start / TILE_WIDTH), Math.floor((end - 1) / TILE_WIDTH)],
    );
    for (const row of rows) {
      const first = Number(row.tile_index) * TILE_WIDTH;
      for (let at = 0; at < row.hashes.length; at += HASH_SIZE) {
        const index = first + at / HASH_SIZE;
        if (index >= start && index < end) {
          leaves.set(index, row.hashes.subarray(at, at + HASH_SIZE));
        }
      }
    }
    return leaves;
  }

  /** Node hashes, read out of the tiles that hold them. */
  nodeReader(): NodeHashReader {
    return tileNodeReader(this);
  }
}
