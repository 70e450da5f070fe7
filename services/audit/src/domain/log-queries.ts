import { createHash } from 'node:crypto';
import { invalidArgument } from '@vaxguard/errors';
import {
  describeAccess,
  directoryIdsOf,
  type AccessHistoryStore,
  type AccessView,
  type Directory,
} from './access-history';
import {
  accessHistoryPageSize,
  isFilterValue,
  MAX_CITIZEN_BENEFICIARIES_READ,
  requireAuditor,
  sizeWithin,
} from './log-rules';
import type { EntryFilter, LogEntry, QueryRecorder, StaffReader } from './model';

/**
 * Auditors' queries of the log (by actor, subject, event type and time range, a page
 * at a time or as one export), and a citizen's own access history, with the rules of
 * their pages and chunks.
 */

/** A citizen, by their token: its subject is the mobile's blind index. */
export interface CitizenReader {
  readonly mobileIndex: string;
}

export interface LogQueryStore {
  /**
   * Entries matching `filter` with an index above `after` (and below `end`, when
   * given), in log order, at most `limit`.
   */
  query(filter: EntryFilter, after: number, limit: number, end?: number): Promise<LogEntry[]>;
  /** How many entries the log holds (every index below it is stored). */
  logSize(): Promise<number>;
}

export const DEFAULT_QUERY_PAGE = 100;
export const MAX_QUERY_PAGE = 1_000;

export function queryPageSize(requested: number): number {
  return sizeWithin(requested, { byDefault: DEFAULT_QUERY_PAGE, max: MAX_QUERY_PAGE });
}

/**
 * An export sends this many entries per message, each chunk one keyset read of the log
 * (a few hundred KB): large enough that a million entries is a few thousand reads,
 * small enough that a caller who stops reading holds little in flight.
 */
export const DEFAULT_EXPORT_CHUNK = 500;
export const MAX_EXPORT_CHUNK = 1_000;

export function exportChunkSize(requested: number): number {
  return sizeWithin(requested, { byDefault: DEFAULT_EXPORT_CHUNK, max: MAX_EXPORT_CHUNK });
}

function checkRange(filter: EntryFilter): void {
  // A Timestamp past year 275760 decodes to an invalid Date, which no query can hold.
  if ([filter.from, filter.to].some((time) => time && Number.isNaN(time.getTime()))) {
    throw invalidArgument('from and to must be valid times', { reason: 'OUT_OF_RANGE' });
  }
  if (![filter.actorId, filter.subjectRef, filter.eventType].every(isFilterValue)) {
    throw invalidArgument('a filter is too long or holds a NUL character', {
      reason: 'INVALID_FILTER',
    });
  }
  if (filter.from && filter.to && filter.from >= filter.to) {
    throw invalidArgument('from must be before to', { reason: 'OUT_OF_RANGE' });
  }
}

/** A short digest of the filters, so a page token only goes on with the query it came from. */
function filterDigest(filter: EntryFilter): string {
  const text = JSON.stringify([
    filter.actorId,
    filter.subjectRef,
    filter.eventType,
    filter.from?.toISOString() ?? '',
    filter.to?.toISOString() ?? '',
  ]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

function encodeToken(position: number, digest: string): string {
  return Buffer.from(JSON.stringify({ p: position, f: digest })).toString('base64url');
}

function decodeToken(
  token: string,
  digest: string,
  refusal = 'the page token is not one this service gave for this query',
): number {
  try {
    const { p, f } = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
      p: unknown;
      f: unknown;
    };
    if (Number.isSafeInteger(p) && (p as number) >= -1 && f === digest) return p as number;
  } catch {
    // falls through to the refusal
  }
  throw invalidArgument(refusal, { reason: 'BAD_PAGE_TOKEN' });
}

export class LogQueries {
  constructor(
    private readonly store: LogQueryStore,
    private readonly recorder: QueryRecorder,
    private readonly directory: Directory,
    private readonly accessStore: AccessHistoryStore,
  ) {}

  async query(
    reader: StaffReader | undefined,
    filter: EntryFilter,
    page: { pageSize: number; pageToken: string },
  ): Promise<{ entries: LogEntry[]; nextPageToken: string }> {
    const auditor = requireAuditor(reader);
    checkRange(filter);
    const digest = filterDigest(filter);
    const after = page.pageToken ? decodeToken(page.pageToken, digest) : -1;
    const limit = queryPageSize(page.pageSize);
    const entries = await this.store.query(filter, after, limit);
    // Recorded before the answer leaves: a query that cannot be logged is not answered.
    await this.recorder.recordQuery(auditor, {
      kind: 'QueryEntries',
      filter,
      returned: entries.length,
    });
    const last = entries.at(-1);
    return {
      entries,
      nextPageToken: entries.length === limit && last ? encodeToken(last.index, digest) : '',
    };
  }

  /**
   * Every entry QueryEntries would give for `filter`, in log order, as chunks read one
   * at a time when the caller asks for the next (never the whole range in memory). An
   * auditor's export is refused or recorded before any entry is read, and covers the
   * log as it stood when it began: an export of a busy filter ends, and does not
   * include its own record.
   */
  async export(
    reader: StaffReader | undefined,
    filter: EntryFilter,
    chunkSize: number,
  ): Promise<AsyncIterable<LogEntry[]>> {
    const auditor = requireAuditor(reader);
    checkRange(filter);
    const end = await this.store.logSize();
    await this.recorder.recordQuery(auditor, { kind: 'ExportEntries', filter });
    return this.chunks(filter, end, exportChunkSize(chunkSize));
  }

  /**
   * Records how an export ended and how many entries it had sent: what an auditor took
   * out of the log is in the log, even when a suspension or a lock cut the export short.
   */
  async exportEnded(
    reader: StaffReader | undefined,
    filter: EntryFilter,
    end: { readonly sent: number; readonly ended: string },
  ): Promise<void> {
    await this.recorder.recordQuery(requireAuditor(reader), {
      kind: 'ExportEnded',
      filter,
      returned: end.sent,
      ended: end.ended,
    });
  }

  private async *chunks(
    filter: EntryFilter,
    end: number,
    limit: number,
  ): AsyncGenerator<LogEntry[]> {
    // Keyset reads: each goes on after the last index sent, so none holds anything open.
    for (let after = -1; ;) {
      const entries = await this.store.query(filter, after, limit, end);
      const last = entries.at(-1);
      if (!last) return;
      yield entries;
      if (entries.length < limit) return;
      after = last.index;
    }
  }

  /**
   * The accesses to the citizen's own beneficiaries, newest first, each by role and
   * by the name of the centre or partner that made it; nothing about anyone else. A
   * page costs the same however long the history: the beneficiaries are one bounded
   * read, and each is read from the token's position down, a page's worth at most.
   */
  async accessHistory(
    citizen: CitizenReader,
    page: { pageSize: number; pageToken: string },
  ): Promise<{ accesses: AccessView[]; nextPageToken: string }> {
    const digest = createHash('sha256')
      .update(citizen.mobileIndex)
      .digest('base64url')
      .slice(0, 16);
    const before = page.pageToken
      ? decodeToken(
          page.pageToken,
          digest,
          "a GetMyAccessHistory page token is the next_page_token of the same citizen's previous page; this one is not",
        )
      : undefined;
    const refs = await this.accessStore.beneficiariesOf(
      citizen.mobileIndex,
      MAX_CITIZEN_BENEFICIARIES_READ,
    );
    if (refs.length === 0) return { accesses: [], nextPageToken: '' };
    const limit = accessHistoryPageSize(page.pageSize);
    const found = await this.accessStore.accessesOf(refs, before, limit);
    const last = found.at(-1);
    if (!last) return { accesses: [], nextPageToken: '' };
    const accesses = found.map(({ access }) => access);
    const names = await this.directory.lookUp(directoryIdsOf(accesses));
    return {
      accesses: accesses.map((access) => describeAccess(access, names)),
      nextPageToken: found.length === limit ? encodeToken(last.index, digest) : '',
    };
  }
}
