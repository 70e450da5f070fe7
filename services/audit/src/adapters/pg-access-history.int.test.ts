import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPool,
  migrate,
  withTransaction,
  type Migration,
  type Pool,
  type Queryable,
} from '@vaxguard/db';
import {
  buildEvent,
  eventActor,
  EVENTS,
  SubjectKind,
  type DecodedEvent,
  type EventDefinition,
} from '@vaxguard/event-catalogue';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { encodeEntry } from '../domain/entry-encoding';
import { LogQueries } from '../domain/log-queries';
import { MAX_ACCESS_HISTORY_PAGE } from '../domain/log-rules';
import { auditMigrations, citizenBeneficiariesMigration } from '../migrations';
import { auditRecordOf } from './log-ingestion';
import { ACCESS_EVENT_TYPES, accessesStatement, PgAccessHistory } from './pg-access-history';
import { PgDirectory, recordDirectory } from './pg-directory';
import { PgLogQueries } from './pg-log-queries';

const logger = createLogger({ service: 'access-history-test', sink: new MemoryLogSink() });
const T0 = Date.UTC(2026, 11, 1, 7);

let postgres: PostgresFixture;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

/** A database of the test's own, migrated (up to `until`, not including it, when given). */
async function database(until?: Migration): Promise<{ pool: Pool } & AsyncDisposable> {
  const pool = createPool({
    connectionString: await postgres.createDatabase(),
    applicationName: 'audit-access-history',
    logger,
  });
  try {
    const end = until ? auditMigrations.indexOf(until) : auditMigrations.length;
    await migrate(pool, auditMigrations.slice(0, end), logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return { pool, [Symbol.asyncDispose]: () => pool.end() };
}

/** An event as the log's consumer decodes it. */
function decoded<T>(
  definition: EventDefinition<string, T>,
  input: {
    actor: ReturnType<typeof eventActor>;
    subjectRef: string;
    payload: T;
    at: number;
  },
): DecodedEvent {
  const { envelope } = buildEvent(definition, {
    actor: input.actor,
    subject: {
      kind: input.subjectRef
        ? SubjectKind.SUBJECT_KIND_BENEFICIARY
        : SubjectKind.SUBJECT_KIND_SYSTEM,
      ref: input.subjectRef,
    },
    payload: input.payload,
    occurredAt: new Date(T0 + input.at),
  });
  return { name: definition.name, envelope, payload: input.payload } as DecodedEvent;
}

/** Stores events as entries from `first` on, as the log's writer would (no tree needed here). */
async function appendEntries(db: Queryable, first: number, events: readonly DecodedEvent[]) {
  let index = first;
  for (const event of events) {
    const record = auditRecordOf(
      event,
      { topic: 'vaxguard.test.events', partition: 0, offset: String(index) },
      new Date(T0 + index),
    );
    await db.query(
      `INSERT INTO audit_log_entries (entry_index, event_id, event_type, producer, actor_kind,
         actor_id, subject_kind, subject_ref, occurred_at, ingested_at, entry)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        index,
        record.event.eventId,
        record.event.type,
        record.event.producer,
        record.event.actor.kind,
        record.event.actor.principalId,
        record.event.subject.kind,
        record.event.subject.ref,
        record.event.occurredAt,
        record.ingestion.ingestedAt,
        encodeEntry(record),
      ],
    );
    index++;
  }
  return index;
}

const MOBILE = 'mob_7fJc2kQ0yYk3eHq9b1xWn8ZpL4uVt6sRa5dGm0iOc';
const registration = (
  mobileIndex: string,
  ref: string,
  actor = eventActor('CITIZEN', mobileIndex),
) =>
  decoded(EVENTS.beneficiaryRegistered, {
    actor,
    subjectRef: ref,
    payload: { mobileIndex, photoIdKind: 0 },
    at: 0,
  });

const read = (ref: string, at: number, granted = true) =>
  granted
    ? decoded(EVENTS.recordAccessed, {
        actor: eventActor('STAFF', 'stf_vaccinator_1', 'console'),
        subjectRef: ref,
        payload: {
          method: '/vaxguard.vaccination_record.v1.VaccinationRecordService/GetRecord',
          role: 'VACCINATOR',
          centreOrPartner: 'ctr-1',
          purpose: 'VACCINATION',
          grantId: `grant-${at}`,
        },
        at,
      })
    : decoded(EVENTS.recordAccessDenied, {
        actor: eventActor('PARTNER_CLIENT', 'partner-1'),
        subjectRef: ref,
        payload: {
          method: '/vaxguard.vaccination_record.v1.VaccinationRecordService/GetCertificate',
          role: 'PARTNER_CLIENT',
          centreOrPartner: 'partner-1',
          purpose: 'CERTIFICATE',
          reason: 'NO_CONSENT',
        },
        at,
      });

async function citizenBeneficiaries(pool: Pool) {
  const { rows } = await pool.query<{ mobile_index: string; beneficiary_ref: string }>(
    'SELECT mobile_index, beneficiary_ref FROM audit_citizen_beneficiaries ORDER BY 1, 2',
  );
  return rows.map((row) => [row.mobile_index, row.beneficiary_ref]);
}

/** Rows the plan's scans of audit_log_entries read: returned plus removed by a filter. */
function rowsRead(plan: unknown): number {
  let total = 0;
  const visit = (node: Record<string, unknown>) => {
    const relation = node['Relation Name'];
    if (typeof relation === 'string' && relation.startsWith('audit_log_entries')) {
      const loops = Number(node['Actual Loops'] ?? 1);
      total +=
        (Number(node['Actual Rows'] ?? 0) + Number(node['Rows Removed by Filter'] ?? 0)) * loops;
    }
    for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) {
      visit(child);
    }
  };
  visit(plan as Record<string, unknown>);
  return total;
}

describe("a citizen's access history in PostgreSQL", () => {
  it('keeps the beneficiaries citizens register at ingestion, once, and the migration finds those already in the log', async () => {
    const other = 'mob_other';
    const events = [
      registration(MOBILE, 'bnf_a'),
      registration(MOBILE, 'bnf_b'),
      // Registered by staff for the mobile, or by a citizen naming another mobile: as
      // before, not the citizen's own.
      registration(MOBILE, 'bnf_staff', eventActor('STAFF', 'stf_registrar', 'console')),
      registration(other, 'bnf_c', eventActor('CITIZEN', MOBILE)),
      registration(other, 'bnf_d'),
    ];
    // Registrations appended before the table existed are found by the migration.
    {
      await using db = await database(citizenBeneficiariesMigration);
      await appendEntries(db.pool, 0, events);
      await migrate(db.pool, auditMigrations, logger);
      expect(await citizenBeneficiaries(db.pool)).toEqual([
        [MOBILE, 'bnf_a'],
        [MOBILE, 'bnf_b'],
        [other, 'bnf_d'],
      ]);
    }
    // Those appended since are kept in the batch's transaction; a redelivery changes nothing.
    await using db = await database();
    for (let round = 0; round < 2; round++) {
      await withTransaction(db.pool, (tx) => recordDirectory(tx, events));
    }
    expect(await citizenBeneficiaries(db.pool)).toEqual([
      [MOBILE, 'bnf_a'],
      [MOBILE, 'bnf_b'],
      [other, 'bnf_d'],
    ]);
  });

  it("pages a busy citizen's history newest first, every access once, each page's reads bounded however long the history", async () => {
    await using db = await database();
    const { pool } = db;
    await withTransaction(pool, (tx) =>
      recordDirectory(tx, [registration(MOBILE, 'bnf_a'), registration(MOBILE, 'bnf_b')]),
    );
    // The citizen's own actions, many (what the history used to walk on every page).
    await pool.query(
      `INSERT INTO audit_log_entries (entry_index, event_id, event_type, producer, actor_kind,
         actor_id, subject_kind, subject_ref, occurred_at, ingested_at, entry)
       SELECT i, gen_random_uuid(), 'consent.granted', 'identity', 'ACTOR_KIND_CITIZEN', $1,
              'SUBJECT_KIND_SYSTEM', '', now(), now(), '\\x00'::bytea
         FROM generate_series(0, 19999) AS i`,
      [MOBILE],
    );
    // 230 accesses of the two, among reads of someone else's beneficiary and other
    // events of the citizen's own (a dose each 10 reads).
    const events: DecodedEvent[] = [];
    const mine: number[] = [];
    let next = 20_000;
    for (let i = 0; i < 230; i++) {
      events.push(read('bnf_x', i));
      mine.push(next + events.length);
      events.push(read(i % 3 ? 'bnf_a' : 'bnf_b', i, i % 7 !== 0));
      if (i % 10 === 0) {
        // Not an access: a registration of the same ref by staff, for another mobile.
        events.push(
          registration('mob_z', 'bnf_a', eventActor('STAFF', 'stf_registrar', 'console')),
        );
      }
    }
    next = await appendEntries(pool, next, events);
    await pool.query('ANALYZE audit_log_entries');

    const queries = new LogQueries(
      new PgLogQueries(pool, () => new Date()),
      new PgLogQueries(pool, () => new Date()),
      new PgDirectory(pool),
      new PgAccessHistory(pool),
    );
    const pages: { beneficiaryRef: string; granted: boolean; purpose: string; at: number }[][] = [];
    let pageToken = '';
    do {
      const page = await queries.accessHistory({ mobileIndex: MOBILE }, { pageSize: 0, pageToken });
      pages.push(
        page.accesses.map((access) => ({
          beneficiaryRef: access.beneficiaryRef,
          granted: access.granted,
          purpose: access.purpose,
          at: (access.occurredAt?.getTime() ?? 0) - T0,
        })),
      );
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pages.map((page) => page.length)).toEqual([100, 100, 30]);
    const expected = Array.from({ length: 230 }, (_, i) => ({
      beneficiaryRef: i % 3 ? 'bnf_a' : 'bnf_b',
      granted: i % 7 !== 0,
      purpose: i % 7 !== 0 ? 'VACCINATION' : 'CERTIFICATE',
      at: i,
    })).reverse();
    expect(pages.flat()).toEqual(expected);
    // One beneficiary alone (most citizens): the same statement with one walk.
    const ofB = await new PgAccessHistory(pool).accessesOf(['bnf_b'], undefined, 5);
    expect(ofB.map(({ access }) => access.beneficiaryRef)).toEqual(Array(5).fill('bnf_b'));

    // Each page's statement reads at most a page of each beneficiary's entries (and the
    // few other events of theirs it passes), not the citizen's 20,000 actions nor every
    // access, however many there are: the first page and one from the middle, once
    // bnf_a has been read 2,000 times more over a long log (one entry in 20).
    await pool.query(
      `INSERT INTO audit_log_entries
       SELECT $1 + i, gen_random_uuid(), event_type, producer, actor_kind,
              actor_id, subject_kind,
              CASE WHEN i % 20 = 0 THEN subject_ref ELSE 'bnf_' || i END,
              occurred_at, ingested_at, entry
         FROM audit_log_entries, generate_series(0, 39999) AS i
        WHERE entry_index = $2`,
      [next, mine[1]],
    );
    await pool.query('ANALYZE audit_log_entries');
    for (const before of [null, mine[120] as number]) {
      const { rows } = await pool.query<{ 'QUERY PLAN': unknown[] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${accessesStatement(2)}`,
        ['bnf_a', 'bnf_b', ACCESS_EVENT_TYPES, before, MAX_ACCESS_HISTORY_PAGE],
      );
      const plan = (rows[0]?.['QUERY PLAN'][0] as { Plan: unknown }).Plan;
      const read = rowsRead(plan);
      expect(read).toBeGreaterThanOrEqual(MAX_ACCESS_HISTORY_PAGE);
      expect(read).toBeLessThanOrEqual(2 * MAX_ACCESS_HISTORY_PAGE + 23);
    }
  });
});
