import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, withTransaction, type Pool } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import {
  appendLeaves,
  EMPTY_FRONTIER,
  generateSignerKey,
  leafHash,
  parseSignerKey,
  readConsistencyProof,
  readFrontier,
  readInclusionProof,
  readRoot,
  rootOf,
  tileKey,
  tilesOfTree,
  type NodeHashReader,
  type NodeId,
  type StoredNode,
} from '@vaxguard/tlog';
import { PgLogStore } from './pg-log-store';
import { PgTileStore } from './pg-tile-store';
import { aRecord } from '../domain/fakes';
import { LogWriter } from '../domain/log-writer';
import { auditMigrations, tilesMigration } from '../migrations';

const logger = createLogger({ service: 'tile-store-test', sink: new MemoryLogSink() });
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

let postgres: PostgresFixture;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

/** A database of the test's own, migrated up to (not including) `until` when given. */
async function database(until?: string): Promise<{ pool: Pool } & AsyncDisposable> {
  const pool = createPool({
    connectionString: await postgres.createDatabase(),
    applicationName: 'audit-tiles-test',
    logger,
  });
  try {
    const last = until ? auditMigrations.findIndex((m) => m.id === until) : -1;
    await migrate(pool, last < 0 ? auditMigrations : auditMigrations.slice(0, last), logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return { pool, [Symbol.asyncDispose]: () => pool.end() };
}

/** The log's own writer, as the audit service runs it, signing nothing on its own. */
function writer(): LogWriter {
  const signer = parseSignerKey(generateSignerKey('tiles.int-test.vaxguard').signerKey);
  return new LogWriter({
    origin: signer.name,
    signer,
    policy: { everyEntries: 1_000_000, intervalMs: 3_600_000 },
    clock: () => new Date(),
    guard: { maySign: async () => true, halt: undefined },
  });
}

/** Node hashes in memory from the same leaves: what the old node table held. */
function nodeTable(
  leaves: readonly Uint8Array[],
): NodeHashReader & { nodes: readonly StoredNode[] } {
  const { nodes } = appendLeaves(EMPTY_FRONTIER, leaves);
  const byKey = new Map(nodes.map((node) => [`${node.level}/${node.index}`, node.hash]));
  return {
    nodes,
    async readNodeHashes(ids: readonly NodeId[]) {
      return ids.map((id) => byKey.get(`${id.level}/${id.index}`) as Uint8Array);
    },
  };
}

/** Proofs and roots of the stored tree against the node table's, at sizes and indexes spread over it. */
async function expectSameTree(stored: NodeHashReader, nodes: NodeHashReader, size: number) {
  let state = size;
  const random = (below: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % below;
  };
  const sizes = [
    1,
    255,
    256,
    257,
    512,
    size - 1,
    size,
    ...Array.from({ length: 20 }, () => 1 + random(size)),
  ];
  for (const treeSize of sizes.filter((s) => s >= 1 && s <= size)) {
    const index = random(treeSize);
    const oldSize = 1 + random(treeSize);
    expect(hex(await readRoot(stored, treeSize))).toBe(hex(await readRoot(nodes, treeSize)));
    expect((await readInclusionProof(stored, index, treeSize)).map(hex)).toEqual(
      (await readInclusionProof(nodes, index, treeSize)).map(hex),
    );
    expect((await readConsistencyProof(stored, oldSize, treeSize)).map(hex)).toEqual(
      (await readConsistencyProof(nodes, oldSize, treeSize)).map(hex),
    );
  }
}

async function storedTiles(pool: Pool): Promise<Map<string, Buffer>> {
  const { rows } = await pool.query<{
    level: number;
    tile_index: string;
    width: number;
    hashes: Buffer;
  }>('SELECT level, tile_index, width, hashes FROM audit_log_tiles');
  for (const row of rows) expect(row.hashes.length).toBe(32 * row.width);
  return new Map(rows.map((row) => [`${row.level}/${row.tile_index}`, row.hashes]));
}

describe('the tree stored as tiles in PostgreSQL', () => {
  it('is written by the log writer across tile boundaries, and proves what the nodes proved', async () => {
    await using db = await database();
    const store = new PgLogStore(db.pool);
    const log = writer();
    const records = Array.from({ length: 1_300 }, () => aRecord());
    // Uneven batches: several end inside a tile, one spans two boundaries.
    for (const [from, to] of [
      [0, 1],
      [1, 200],
      [200, 300],
      [300, 811],
      [811, 1_024],
      [1_024, 1_300],
    ] as const) {
      await store.inTransaction((tx) => log.append(tx, records.slice(from, to)));
    }
    const entries = await store.entries(0, 1_300);
    const leaves = entries.map((entry) => leafHash(entry.entry));
    const head = await store.head();
    expect(head.size).toBe(1_300);
    expect(hex(head.rootHash)).toBe(hex(rootOf(leaves)));

    const tiles = await storedTiles(db.pool);
    expect([...tiles.keys()].sort()).toEqual(tilesOfTree(1_300).map(tileKey).sort());
    expect(hex(tiles.get('0/5') as Buffer)).toBe(hex(Buffer.concat(leaves.slice(1_280))));
    expect(hex((tiles.get('1/0') as Buffer).subarray(32 * 4))).toBe(
      hex(rootOf(leaves.slice(1_024, 1_280))),
    );
    await expectSameTree(store, nodeTable(leaves), 1_300);
    const stored = await store.leafHashes(250, 530);
    expect([...stored.keys()]).toEqual(Array.from({ length: 280 }, (_, i) => 250 + i));
    expect(hex(stored.get(529) as Uint8Array)).toBe(hex(leaves[529] as Uint8Array));
  });

  it('refuses hashes that do not go exactly where a tile ends, and keeps the tile', async () => {
    await using db = await database();
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
    const first = appendLeaves(EMPTY_FRONTIER, leaves.slice(0, 100));
    await new PgTileStore(db.pool).append(first.nodes);
    // The same hashes again (a second writer that read an old head), then with a gap.
    await expect(new PgTileStore(db.pool).append(first.nodes)).rejects.toThrow(/do not end where/);
    const later = appendLeaves(
      appendLeaves(first.frontier, leaves.slice(100, 120)).frontier,
      leaves.slice(120),
    );
    await expect(new PgTileStore(db.pool).append(later.nodes)).rejects.toThrow(/do not end where/);
    expect((await storedTiles(db.pool)).get('0/0')?.length).toBe(100 * 32);
  });

  it('converts an existing node table (migration 0005): every root and proof kept, the table gone', async () => {
    await using db = await database(tilesMigration.id);
    const size = 66_000; // three tile levels: 257 full tiles at level 0, one partial at 1 and 2
    const leaves = Array.from({ length: size }, (_, i) => leafHash(Buffer.from(`old entry ${i}`)));
    const nodes = nodeTable(leaves);
    await db.pool.query(
      `INSERT INTO audit_log_nodes (level, node_index, hash)
       SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
      [
        nodes.nodes.map((n) => n.level),
        nodes.nodes.map((n) => n.index),
        nodes.nodes.map((n) => Buffer.from(n.hash)),
      ],
    );
    const nodeRows = nodes.nodes.length;
    await migrate(db.pool, auditMigrations, logger);

    const { rows } = await db.pool.query<{ nodes: string | null }>(
      "SELECT to_regclass('audit_log_nodes') AS nodes",
    );
    expect(rows[0]?.nodes).toBeNull();
    const tiles = await storedTiles(db.pool);
    expect([...tiles.keys()].sort()).toEqual(tilesOfTree(size).map(tileKey).sort());
    expect(tiles.size).toBeLessThan(nodeRows / 400);
    await expectSameTree(new PgLogStore(db.pool), nodes, size);
    // The converted tiles go on growing from where the nodes ended.
    const more = leaves.map((leaf) => leafHash(leaf)).slice(0, 300);
    const next = appendLeaves(await readFrontier(new PgLogStore(db.pool), size), more);
    await withTransaction(db.pool, (client) => new PgTileStore(client).append(next.nodes));
    await expectSameTree(new PgLogStore(db.pool), nodeTable([...leaves, ...more]), size + 300);
  });

  it('refuses to convert a node table with a gap, naming the tile', async () => {
    await using db = await database(tilesMigration.id);
    const nodes = nodeTable(
      Array.from({ length: 600 }, (_, i) => leafHash(Buffer.from(`gap ${i}`))),
    );
    const kept = nodes.nodes.filter((n) => !(n.level === 0 && n.index === 300));
    await db.pool.query(
      `INSERT INTO audit_log_nodes (level, node_index, hash)
       SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
      [kept.map((n) => n.level), kept.map((n) => n.index), kept.map((n) => Buffer.from(n.hash))],
    );
    await expect(migrate(db.pool, auditMigrations, logger)).rejects.toThrow(
      'audit_log_nodes has a gap in tile 0/1 of tree level 0: not converted',
    );
    const { rows } = await db.pool.query<{ nodes: string | null }>(
      "SELECT to_regclass('audit_log_nodes') AS nodes",
    );
    expect(rows[0]?.nodes).not.toBeNull();
  });
});
