import { describe, expect, it } from 'vitest';
import { LogQueries, type EntryFilter, type LogQueryStore } from './log-queries';
import type { LogEntry, StaffReader } from './model';

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

class MemoryQueries implements LogQueryStore {
  readonly recorded: { auditor: StaffReader; filter: EntryFilter; returned: number }[] = [];
  constructor(
    readonly entries: LogEntry[],
    readonly registered: Record<string, string[]>,
  ) {}
  async query(filter: EntryFilter, after: number, limit: number) {
    return this.entries
      .filter((e) => e.index > after && (!filter.actorId || e.columns.actorId === filter.actorId))
      .slice(0, limit);
  }
  async beneficiariesOf(mobileIndex: string) {
    return this.registered[mobileIndex] ?? [];
  }
  async accessesOf(refs: readonly string[], before: number | undefined, limit: number) {
    return this.entries
      .filter(
        (e) => refs.includes(e.columns.subjectRef) && (before === undefined || e.index < before),
      )
      .reverse()
      .slice(0, limit);
  }
  async recordQuery(who: StaffReader, filter: EntryFilter, returned: number) {
    this.recorded.push({ auditor: who, filter, returned });
  }
}

describe('LogQueries', () => {
  const entries = [1, 2, 3, 4, 5].map((i) => entry(i, i % 2 ? 'stf_odd' : 'stf_even', `bnf_${i}`));

  it('pages a query with tokens bound to its filters, and records every page asked for', async () => {
    const store = new MemoryQueries(entries, {});
    const queries = new LogQueries(store, store);
    const filter = { ...none, actorId: 'stf_odd' };
    const first = await queries.query(auditor, filter, { pageSize: 2, pageToken: '' });
    expect(first.entries.map((e) => e.index)).toEqual([1, 3]);
    const rest = await queries.query(auditor, filter, {
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(rest.entries.map((e) => e.index)).toEqual([5]);
    expect(rest.nextPageToken).toBe('');
    expect(store.recorded.map((r) => r.returned)).toEqual([2, 1]);
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

  it('gives a citizen the accesses to their own beneficiaries only, newest first', async () => {
    const store = new MemoryQueries(entries, { mine: ['bnf_2', 'bnf_4'], nobody: [] });
    const queries = new LogQueries(store, store);
    const first = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 1, pageToken: '' },
    );
    expect(first.entries.map((e) => e.columns.subjectRef)).toEqual(['bnf_4']);
    const next = await queries.accessHistory(
      { mobileIndex: 'mine' },
      { pageSize: 1, pageToken: first.nextPageToken },
    );
    expect(next.entries.map((e) => e.columns.subjectRef)).toEqual(['bnf_2']);
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
    expect(theirs.entries).toEqual([]);
  });
});
