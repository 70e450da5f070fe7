import { describe, expect, it } from 'vitest';
import type {
  AccessHistoryStore,
  Directory,
  DirectoryEntries,
  DirectoryIds,
  RecordedAccess,
} from './access-history';
import {
  DEFAULT_EXPORT_CHUNK,
  LogQueries,
  MAX_EXPORT_CHUNK,
  type LogQueryStore,
} from './log-queries';
import { MAX_ACCESS_HISTORY_PAGE, MAX_CITIZEN_BENEFICIARIES_READ } from './log-rules';
import type { AuditorRead, EntryFilter, LogEntry, QueryRecorder, StaffReader } from './model';

const auditor = { staffId: 'stf_auditor', role: 'AUDITOR' };
const none: EntryFilter = {
  actorId: '',
  subjectRef: '',
  eventType: '',
  from: undefined,
  to: undefined,
};

function entry(index: number, actorId: string, subjectRef: string): LogEntry {
  return {
    index,
    entry: new Uint8Array(),
    columns: {
      eventId: `e${index}`,
      eventType: 'access.granted',
      producer: 'identity',
      actorKind: 'ACTOR_KIND_STAFF',
      actorId,
      subjectKind: 'SUBJECT_KIND_BENEFICIARY',
      subjectRef,
      occurredAt: new Date(0),
      ingestedAt: new Date(0),
    },
  };
}

/** A staff member's read of the entry's subject, as its event would record it. */
function accessOf(logEntry: LogEntry): RecordedAccess {
  return {
    beneficiaryRef: logEntry.columns.subjectRef,
    occurredAt: logEntry.columns.occurredAt,
    granted: true,
    actorKind: 'STAFF',
    actorId: logEntry.columns.actorId,
    role: '',
    centreOrPartner: '',
    purpose: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
    refusal: '',
  };
}

class MemoryQueries implements LogQueryStore, QueryRecorder, Directory, AccessHistoryStore {
  readonly recorded: { auditor: StaffReader; read: AuditorRead }[] = [];
  /** Each read of the log: the position it went on after. */
  readonly reads: number[] = [];
  readonly lookedUp: DirectoryIds[] = [];
  /** Each read of a citizen's beneficiaries and accesses: its limit. */
  readonly limits: { beneficiaries: number[]; accesses: number[] } = {
    beneficiaries: [],
    accesses: [],
  };
  constructor(
    readonly entries: LogEntry[],
    readonly registered: Record<string, string[]>,
    readonly names: DirectoryEntries = {
      centres: new Map(),
      staff: new Map(),
      partners: new Map(),
    },
  ) {}
  async query(filter: EntryFilter, after: number, limit: number, end?: number) {
    this.reads.push(after);
    return this.entries
      .filter(
        (e) =>
          e.index > after &&
          (end === undefined || e.index < end) &&
          (!filter.actorId || e.columns.actorId === filter.actorId),
      )
      .slice(0, limit);
  }
  async logSize() {
    return (this.entries.at(-1)?.index ?? -1) + 1;
  }
  async beneficiariesOf(mobileIndex: string, limit: number) {
    this.limits.beneficiaries.push(limit);
    return (this.registered[mobileIndex] ?? []).slice(0, limit);
  }
  async accessesOf(refs: readonly string[], before: number | undefined, limit: number) {
    this.limits.accesses.push(limit);
    return this.entries
      .filter(
        (e) => refs.includes(e.columns.subjectRef) && (before === undefined || e.index < before),
      )
      .reverse()
      .slice(0, limit)
      .map((e) => ({ index: e.index, access: accessOf(e) }));
  }
  async recordQuery(who: StaffReader, read: AuditorRead) {
    this.recorded.push({ auditor: who, read });
  }
  async lookUp(ids: DirectoryIds) {
    this.lookedUp.push(ids);
    return this.names;
  }
}

const returned = (read: AuditorRead | undefined) =>
  read && read.kind !== 'ExportEntries' ? read.returned : undefined;

async function collect<T>(chunks: AsyncIterable<T[]>): Promise<T[][]> {
  const all: T[][] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

describe('LogQueries', () => {
  const entries = [1, 2, 3, 4, 5].map((i) => entry(i, i % 2 ? 'stf_odd' : 'stf_even', `bnf_${i}`));

  it('pages a query with tokens bound to its filters, and records every page asked for', async () => {
    const store = new MemoryQueries(entries, {});
    const queries = new LogQueries(store, store, store, store);
    const filter = { ...none, actorId: 'stf_odd' };
    const first = await queries.query(auditor, filter, { pageSize: 2, pageToken: '' });
    expect(first.entries.map((e) => e.index)).toEqual([1, 3]);
    const rest = await queries.query(auditor, filter, {
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(rest.entries.map((e) => e.index)).toEqual([5]);
    expect(rest.nextPageToken).toBe('');
    expect(store.recorded.map((r) => [r.read.kind, returned(r.read)])).toEqual([
      ['QueryEntries', 2],
      ['QueryEntries', 1],
    ]);
    await expect(
      queries.query(
        auditor,
        { ...none, actorId: 'stf_even' },
        { pageSize: 2, pageToken: first.nextPageToken },
      ),
    ).rejects.toMatchObject({ reason: 'BAD_PAGE_TOKEN' });
    await expect(
      queries.query({ staffId: 'v', role: 'VACCINATOR' }, filter, { pageSize: 0, pageToken: '' }),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'NOT_AUDITOR' });
    expect(store.recorded).toHaveLength(2);
    await expect(
      queries.query(
        auditor,
        { ...none, from: new Date(2), to: new Date(1) },
        { pageSize: 0, pageToken: '' },
      ),
    ).rejects.toMatchObject({ reason: 'OUT_OF_RANGE' });
  });

  it('exports every entry a query would give, a chunk per read, recorded before the first', async () => {
    const many = Array.from({ length: 23 }, (_, i) =>
      entry(i, i % 3 ? 'stf_other' : 'stf_third', `bnf_${i}`),
    );
    const store = new MemoryQueries(many, {});
    const queries = new LogQueries(store, store, store, store);
    const filter = { ...none, actorId: 'stf_third' };
    const chunks = await queries.export(auditor, filter, 3);
    // Recorded as soon as it is asked for; nothing read yet.
    expect(store.recorded).toEqual([{ auditor, read: { kind: 'ExportEntries', filter } }]);
    expect(store.reads).toEqual([]);
    const exported = await collect(chunks);
    expect(exported.map((chunk) => chunk.map((e) => e.index))).toEqual([
      [0, 3, 6],
      [9, 12, 15],
      [18, 21],
    ]);
    // Keyset reads, each going on after the last index sent.
    expect(store.reads).toEqual([-1, 6, 15]);
    let paged: number[] = [];
    for (let token = '', first = true; first || token; first = false) {
      const page = await queries.query(auditor, filter, { pageSize: 4, pageToken: token });
      paged = [...paged, ...page.entries.map((e) => e.index)];
      token = page.nextPageToken;
    }
    expect(exported.flat().map((e) => e.index)).toEqual(paged);
  });

  it('reads the next chunk only when asked, and stops with the caller', async () => {
    const store = new MemoryQueries(
      Array.from({ length: 100 }, (_, i) => entry(i, 'stf_a', `bnf_${i}`)),
      {},
    );
    const queries = new LogQueries(store, store, store, store);
    const iterator = (await queries.export(auditor, none, 10))[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    expect(store.reads).toEqual([-1, 9]);
    await iterator.return?.();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(store.reads).toHaveLength(2);
  });

  it('exports the log as it stood when the export began', async () => {
    const store = new MemoryQueries(
      [0, 1, 2].map((i) => entry(i, 'stf_a', `bnf_${i}`)),
      {},
    );
    const queries = new LogQueries(store, store, store, store);
    const chunks = await queries.export(auditor, none, 2);
    // Appended after the export began (its own audit.queried event, for one).
    store.entries.push(entry(3, 'stf_a', 'bnf_3'), entry(4, 'stf_a', 'bnf_4'));
    const exported = await collect(chunks);
    expect(exported.flat().map((e) => e.index)).toEqual([0, 1, 2]);
  });

  it('refuses an export to anyone but auditors, and a reversed range, before recording or reading', async () => {
    const store = new MemoryQueries([entry(0, 'stf_a', 'bnf_0')], {});
    const queries = new LogQueries(store, store, store, store);
    await expect(
      queries.export({ staffId: 'stf_v', role: 'VACCINATOR' }, none, 0),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'NOT_AUDITOR' });
    await expect(queries.export(undefined, none, 0)).rejects.toMatchObject({
      reason: 'NOT_AUDITOR',
    });
    await expect(
      queries.export(auditor, { ...none, from: new Date(2), to: new Date(2) }, 0),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'OUT_OF_RANGE' });
    // Found by the fuzz suite (issue 18): a time too far out to be a Date was INTERNAL.
    // A subject longer than the index holds stopped the log's ingestion; a NUL was INTERNAL.
    for (const bad of [{ subjectRef: 'b'.repeat(3_000) }, { actorId: 'stf\u0000' }]) {
      await expect(queries.export(auditor, { ...none, ...bad }, 0)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        reason: 'INVALID_FILTER',
      });
      await expect(
        queries.query(auditor, { ...none, ...bad }, { pageSize: 0, pageToken: '' }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'INVALID_FILTER' });
    }
    for (const far of [{ from: new Date(NaN) }, { to: new Date(NaN) }]) {
      await expect(queries.export(auditor, { ...none, ...far }, 0)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        reason: 'OUT_OF_RANGE',
      });
      await expect(
        queries.query(auditor, { ...none, ...far }, { pageSize: 0, pageToken: '' }),
      ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'OUT_OF_RANGE' });
    }
    expect([store.recorded, store.reads]).toEqual([[], []]);
  });

  it('sends default-sized chunks, and never more than the largest', async () => {
    const store = new MemoryQueries(
      Array.from({ length: MAX_EXPORT_CHUNK + 1 }, (_, i) => entry(i, 'stf_a', `bnf_${i}`)),
      {},
    );
    const queries = new LogQueries(store, store, store, store);
    const byDefault = await collect(await queries.export(auditor, none, 0));
    expect(byDefault[0]).toHaveLength(DEFAULT_EXPORT_CHUNK);
    const huge = await collect(await queries.export(auditor, none, 1_000_000));
    expect(huge.map((chunk) => chunk.length)).toEqual([MAX_EXPORT_CHUNK, 1]);
  });

  it('gives a citizen the accesses to their own beneficiaries only, newest first', async () => {
    const store = new MemoryQueries(entries, { mine: ['bnf_2', 'bnf_4'], nobody: [] });
    const queries = new LogQueries(store, store, store, store);
    const first = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 1, pageToken: '' },
    );
    expect(first.accesses.map((a) => a.beneficiaryRef)).toEqual(['bnf_4']);
    const next = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 1, pageToken: first.nextPageToken },
    );
    expect(next.accesses.map((a) => a.beneficiaryRef)).toEqual(['bnf_2']);
    // Another citizen cannot go on with my token, and sees nothing of mine.
    await expect(
      queries.accessHistory(
        { mobileIndex: 'nobody' },
        { pageSize: 1, pageToken: first.nextPageToken },
      ),
    ).rejects.toMatchObject({ reason: 'BAD_PAGE_TOKEN' });
    const theirs = await queries.accessHistory(
      { mobileIndex: 'nobody' },
      { pageSize: 0, pageToken: '' },
    );
    expect(theirs.accesses).toEqual([]);
  });

  it('bounds every page of an access history: its size, the beneficiaries read, and a token only its citizen may go on with', async () => {
    const many = Array.from({ length: 250 }, (_, i) => entry(i, 'stf_v', 'bnf_1'));
    const store = new MemoryQueries(many, { mine: ['bnf_1'], other: ['bnf_9'] });
    const queries = new LogQueries(store, store, store, store);
    const pages: number[][] = [];
    let pageToken = '';
    do {
      const page = await queries.accessHistory(
        { mobileIndex: 'mine' },
        { pageSize: 1_000_000, pageToken },
      );
      pages.push(page.accesses.map((access) => access.occurredAt?.getTime() ?? 0));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pages.map((page) => page.length)).toEqual([100, 100, 50]);
    expect(store.limits.accesses.every((limit) => limit === MAX_ACCESS_HISTORY_PAGE)).toBe(true);
    expect(store.limits.beneficiaries).toEqual([
      MAX_CITIZEN_BENEFICIARIES_READ,
      MAX_CITIZEN_BENEFICIARIES_READ,
      MAX_CITIZEN_BENEFICIARIES_READ,
    ]);
    const first = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 10, pageToken: '' },
    );
    for (const [citizen, token] of [
      ['other', first.nextPageToken],
      ['mine', 'not-a-token'],
      ['mine', Buffer.from(JSON.stringify({ p: 1.5, f: 'x' })).toString('base64url')],
    ] as const) {
      await expect(
        queries.accessHistory({ mobileIndex: citizen }, { pageSize: 10, pageToken: token }),
      ).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        reason: 'BAD_PAGE_TOKEN',
        message:
          "a GetMyAccessHistory page token is the next_page_token of the same citizen's previous page; this one is not",
      });
    }
  });

  it("names the reader's role and centre from the directory, never the staff id", async () => {
    const store = new MemoryQueries(
      [entry(1, 'stf_v', 'bnf_1')],
      { mine: ['bnf_1'] },
      {
        staff: new Map([['stf_v', { role: 'VACCINATOR', centreId: 'ctr-1' }]]),
        centres: new Map([['ctr-1', { name: 'PHC Andheri', district: 'Mumbai', state: 'MH' }]]),
        partners: new Map(),
      },
    );
    const queries = new LogQueries(store, store, store, store);
    const { accesses } = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 0, pageToken: '' },
    );
    expect(store.lookedUp).toEqual([{ centreIds: [], staffIds: ['stf_v'], partnerIds: [] }]);
    expect(accesses).toEqual([
      expect.objectContaining({
        role: 'VACCINATOR',
        centreOrPartner: 'ctr-1',
        centreName: 'PHC Andheri',
        partnerName: '',
      }),
    ]);
    expect(JSON.stringify(accesses)).not.toContain('stf_v');
  });
});
