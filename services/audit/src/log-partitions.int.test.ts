import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@vaxguard/db';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@vaxguard/tlog';
import { PgLogQueries } from './adapters/pg-log-queries';
import { runPartitionMaintenance } from './adapters/pg-partitions';
import { PgLogStore } from './adapters/pg-log-store';
import { MemoryKeptState, RecordingAlarm } from './domain/fakes';
import { LogKeeper } from './domain/log-keeper';
import { LogReader } from './domain/log-reader';
import { ENTRIES_PER_PARTITION } from './domain/log-rules';
import { LogWriter } from './domain/log-writer';
import type { AuditRecord, EntryFilter, LogEntry } from './domain/model';
import { auditMigrations, partitionedEntriesMigration } from './migrations';

const AUDITOR = { staffId: 'stf_auditor', role: 'AUDITOR' };
const TYPES = ['access.granted', 'record.accessed', 'dose.recorded', 'otp.requested'];
const ACTORS = ['stf_a', 'stf_b', 'stf_c', 'stf_d', 'stf_e', 'stf_f', 'stf_g'];
const START = Date.UTC(2026, 11, 1, 6, 0, 0);
const BATCHES = 30;
const PER_BATCH = 100;
/** The writer's clock moves this much per batch: 30 batches are 15 minutes of log. */
const BATCH_MS = 30_000;

/**
 * The statement QueryEntries ran before entries were partitioned (from entry 0, every
 * filter in one WHERE): the reference the new statements must agree with.
 */
const REFERENCE_QUERY = `SELECT entry_index FROM audit_log_entries
  WHERE ($1 = '' OR actor_id = $1) AND ($2 = '' OR subject_ref = $2)
    AND ($3 = '' OR event_type = $3)
    AND ($4::timestamptz IS NULL OR occurred_at >= $4)
    AND ($5::timestamptz IS NULL OR occurred_at < $5)
  ORDER BY entry_index`;

function record(i: number, ingestedAt: Date): AuditRecord {
  // Producers' clocks: up to 50 s behind ingestion, some a little ahead (within the slack).
  const occurredAt = new Date(ingestedAt.getTime() - ((i * 7_919) % 50_000) + 20_000);
  return {
    event: {
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      type: TYPES[i % TYPES.length] ?? 'access.granted',
      occurredAt,
      producer: 'identity',
      actor: {
        kind: 'ACTOR_KIND_STAFF',
        principalId: ACTORS[(i * 3) % ACTORS.length] ?? 'stf_a',
        clientId: 'console',
      },
      subject: { kind: 'SUBJECT_KIND_BENEFICIARY', ref: `bnf_${i % 11}` },
      payload: { typeUrl: 'type.googleapis.com/x.Y', value: Uint8Array.of(8, i % 128) },
      correlationId: '',
    },
    ingestion: { topic: 'vaxguard.identity.events', partition: 0, offset: String(i), ingestedAt },
  };
}

describe('audit entries partitioned by index (real PostgreSQL, pg_partman)', () => {
  let postgres: PostgresFixture;
  const pools: pg.Pool[] = [];
  const logger = createLogger({ service: 'audit-test', sink: new MemoryLogSink() });

  beforeAll(async () => {
    postgres = await startPostgres();
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await postgres?.stop();
  });

  async function aDatabase(): Promise<pg.Pool> {
    const pool = new pg.Pool({ connectionString: await postgres.createDatabase(), max: 4 });
    pools.push(pool);
    return pool;
  }

  const partitionsOf = async (pool: pg.Pool): Promise<string[]> =>
    (
      await pool.query<{ name: string }>(
        `SELECT partition_tablename AS name
           FROM partman.show_partitions('public.audit_log_entries', 'ASC')`,
      )
    ).rows.map((row) => row.name);

  it('migrates a populated log: every entry kept, VerifyLog passes, and the time, type and actor queries give what they gave', async () => {
    const pool = await aDatabase();
    const earlier = auditMigrations.filter((m) => m.id !== partitionedEntriesMigration.id);
    await migrate(pool, earlier, logger);

    const { signerKey, verifierKey } = generateSignerKey('audit.partitions-test.vaxguard');
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    let now = START;
    const clock = () => new Date(now);
    const keeper = await LogKeeper.open({
      store: new MemoryKeptState(),
      alarm: new RecordingAlarm(),
      origin: signer.name,
      verifier,
      actor: 'svc-audit',
      clock,
      publishes: 'SIGNED',
    });
    const writer = new LogWriter({
      origin: signer.name,
      signer,
      policy: { everyEntries: 250, intervalMs: 1_000 },
      clock,
      guard: keeper,
    });
    const store = new PgLogStore(pool);
    for (let batch = 0; batch < BATCHES; batch++) {
      now += BATCH_MS;
      const records = Array.from({ length: PER_BATCH }, (_, i) =>
        record(batch * PER_BATCH + i, clock()),
      );
      await store.inTransaction((tx) => writer.append(tx, records));
    }
    const size = BATCHES * PER_BATCH;
    const latest = await store.latestCheckpoint();
    expect(latest?.size).toBe(size);
    if (latest) await keeper.keep(store, latest);

    const filter = (
      actorId: string,
      subjectRef: string,
      eventType: string,
      from?: number,
      to?: number,
    ): EntryFilter => ({
      actorId,
      subjectRef,
      eventType,
      from: from === undefined ? undefined : new Date(START + from * BATCH_MS),
      to: to === undefined ? undefined : new Date(START + to * BATCH_MS),
    });
    const filters: EntryFilter[] = [
      filter('', '', ''),
      filter('', '', '', 25),
      filter('', '', 'dose.recorded', 12),
      filter('stf_c', '', '', 20),
      filter('stf_d', 'bnf_3', '', 5, 9),
      filter('', '', 'otp.requested'),
    ];
    const reference = async (filter: EntryFilter): Promise<number[]> =>
      (
        await pool.query<{ entry_index: string }>(REFERENCE_QUERY, [
          filter.actorId,
          filter.subjectRef,
          filter.eventType,
          filter.from ?? null,
          filter.to ?? null,
        ])
      ).rows.map((row) => Number(row.entry_index));
    const referenceBefore = await Promise.all(filters.map(reference));
    // Every row, every column, as one digest (a deep equality of 3,000 rows takes seconds).
    const digestOfRows = async () =>
      (
        await pool.query<{ rows: string; digest: string }>(
          `SELECT count(*) AS rows,
                  md5(string_agg(row_to_json(e)::text, '|' ORDER BY entry_index)) AS digest
             FROM audit_log_entries e`,
        )
      ).rows[0];
    const rowsBefore = await digestOfRows();
    expect(Number(rowsBefore?.rows)).toBe(size);

    await migrate(pool, auditMigrations, logger);

    expect(await digestOfRows()).toEqual(rowsBefore);
    const { rows: kind } = await pool.query<{ relkind: string }>(
      "SELECT relkind FROM pg_class WHERE relname = 'audit_log_entries'",
    );
    expect(kind[0]?.relkind).toBe('p');
    // The partition holding the entries and the ones made ahead of it; none by default.
    expect(await partitionsOf(pool)).toEqual(
      [0, 1, 2, 3, 4].map((n) => `audit_log_entries_p${n * ENTRIES_PER_PARTITION}`),
    );

    const reader = new LogReader({
      store,
      kept: keeper,
      origin: signer.name,
      verifierKey,
      verifier,
    });
    const report = await reader.verify(AUDITOR, 0, size);
    expect(report.firstMismatch).toBeUndefined();
    expect(report.checkpointsChecked).toBeGreaterThan(0);

    const queries = new PgLogQueries(pool, clock);
    const pagedThrough = async (filter: EntryFilter): Promise<number[]> => {
      const found: LogEntry[] = [];
      for (let after = -1; ;) {
        const page = await queries.query(filter, after, 97);
        found.push(...page);
        const last = page.at(-1);
        if (!last || page.length < 97) return found.map((entry) => entry.index);
        after = last.index;
      }
    };
    for (const [i, filter] of filters.entries()) {
      const expected = referenceBefore[i] ?? [];
      expect(expected.length).toBeGreaterThan(0);
      expect(await reference(filter)).toEqual(expected);
      expect(await pagedThrough(filter), JSON.stringify(filter)).toEqual(expected);
    }
    // A time filter starts at a checkpoint near its time, not at entry 0.
    expect(await queries.startIndexFor(new Date(START + 25 * BATCH_MS))).toBeGreaterThan(2_000);
  });

  it('appends across a partition boundary, makes partitions ahead, refuses an append past them, and refuses archived entries by name', async () => {
    const pool = await aDatabase();
    await migrate(pool, auditMigrations, logger);
    const store = new PgLogStore(pool);
    const first = ENTRIES_PER_PARTITION - 2;
    const at = new Date(START);
    const entriesAt = (indexes: readonly number[]): LogEntry[] =>
      indexes.map((index) => ({
        index,
        entry: Buffer.from(`entry ${index}`),
        columns: {
          eventId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
          eventType: 'access.granted',
          producer: 'identity',
          actorKind: 'ACTOR_KIND_STAFF',
          actorId: 'stf_a',
          subjectKind: 'SUBJECT_KIND_BENEFICIARY',
          subjectRef: 'bnf_1',
          occurredAt: at,
          ingestedAt: at,
        },
      }));
    const appendRows = (indexes: readonly number[]) =>
      store.inTransaction(async (tx) => {
        const head = await tx.lockHead();
        await tx.append(entriesAt(indexes), [], {
          size: (indexes.at(-1) ?? 0) + 1,
          rootHash: head.rootHash,
        });
      });

    await appendRows([first, first + 1, first + 2, first + 3]);
    const { rows } = await pool.query<{ entry_index: string; partition: string }>(
      `SELECT entry_index, tableoid::regclass::text AS partition
         FROM audit_log_entries ORDER BY entry_index`,
    );
    expect(rows.map((row) => row.partition)).toEqual([
      'audit_log_entries_p0',
      'audit_log_entries_p0',
      `audit_log_entries_p${ENTRIES_PER_PARTITION}`,
      `audit_log_entries_p${ENTRIES_PER_PARTITION}`,
    ]);
    const beyond = 6 * ENTRIES_PER_PARTITION;
    expect((await partitionsOf(pool)).at(-1)).toBe(
      `audit_log_entries_p${beyond - 2 * ENTRIES_PER_PARTITION}`,
    );
    // Past the partitions made ahead there is no partition (and no default): refused.
    await expect(appendRows([beyond])).rejects.toThrow(/no partition/);
    // Maintenance makes partitions ahead of the newest entry.
    await runPartitionMaintenance(pool);
    expect((await partitionsOf(pool)).at(-1)).toBe(
      `audit_log_entries_p${beyond - ENTRIES_PER_PARTITION}`,
    );

    // Archiving, as the README says: partman's retention detaches old partitions into
    // the audit_archive schema, kept as tables.
    await pool.query('CREATE SCHEMA audit_archive');
    await pool.query(
      `UPDATE partman.part_config
          SET retention = '1', retention_keep_table = true, retention_schema = 'audit_archive'
        WHERE parent_table = 'public.audit_log_entries'`,
    );
    await runPartitionMaintenance(pool);
    expect((await partitionsOf(pool))[0]).toBe(`audit_log_entries_p${ENTRIES_PER_PARTITION}`);
    const { rows: archived } = await pool.query<{ count: string }>(
      'SELECT count(*) FROM audit_archive.audit_log_entries_p0',
    );
    expect(Number(archived[0]?.count)).toBe(2);

    await expect(store.entries(first, first + 4)).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      reason: 'ENTRIES_ARCHIVED',
    });
    const held = await store.entries(ENTRIES_PER_PARTITION, ENTRIES_PER_PARTITION + 2);
    expect(held.map((entry) => entry.index)).toEqual([
      ENTRIES_PER_PARTITION,
      ENTRIES_PER_PARTITION + 1,
    ]);
  });
});
