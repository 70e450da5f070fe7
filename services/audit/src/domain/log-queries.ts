import { createHash } from 'node:crypto';
import { invalidArgument } from '@vaxguard/errors';
import { requireAuditor } from './log-rules';
import type { LogEntry, StaffReader } from './model';

/**
 * Auditors' queries of the log (by actor, subject, event type and time range) and a
 * citizen's own access history, with the rules of their pages.
 */

/** Each filter left empty (or undefined) matches everything. */
export interface EntryFilter {
  readonly actorId: string;
  readonly subjectRef: string;
  readonly eventType: string;
  readonly from: Date | undefined;
  readonly to: Date | undefined;
}

/** A citizen, by their token: its subject is the mobile's blind index. */
export interface CitizenReader {
  readonly mobileIndex: string;
}

export interface LogQueryStore {
  /** Entries matching `filter` with an index above `after`, in log order, at most `limit`. */
  query(filter: EntryFilter, after: number, limit: number): Promise<LogEntry[]>;
  /** The beneficiaries registered on the mobile, as the log's registrations say. */
  beneficiariesOf(mobileIndex: string): Promise<string[]>;
  /** Reads and refused reads of these beneficiaries below index `before`, newest first. */
  accessesOf(
    refs: readonly string[],
    before: number | undefined,
    limit: number,
  ): Promise<LogEntry[]>;
}

/** Records an auditor's query as an event of the log, before its answer is given. */
export interface QueryRecorder {
  recordQuery(auditor: StaffReader, filter: EntryFilter, returned: number): Promise<void>;
}

export const DEFAULT_QUERY_PAGE = 100;
export const MAX_QUERY_PAGE = 1_000;

export function queryPageSize(requested: number): number {
  if (requested === 0) return DEFAULT_QUERY_PAGE;
  return Math.min(requested, MAX_QUERY_PAGE);
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

function decodeToken(token: string, digest: string): number {
  try {
    const { p, f } = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
      p: unknown;
      f: unknown;
    };
    if (Number.isSafeInteger(p) && (p as number) >= -1 && f === digest) return p as number;
  } catch {
    // falls through to the refusal
  }
  throw invalidArgument('the page token is not one this service gave for this query', {
    reason: 'BAD_PAGE_TOKEN',
  });
}

export class LogQueries {
  constructor(
    private readonly store: LogQueryStore,
    private readonly recorder: QueryRecorder,
  ) {}

  async query(
    reader: StaffReader | undefined,
    filter: EntryFilter,
    page: { pageSize: number; pageToken: string },
  ): Promise<{ entries: LogEntry[]; nextPageToken: string }> {
    const auditor = requireAuditor(reader);
    if (filter.from && filter.to && filter.from >= filter.to) {
      throw invalidArgument('from must be before to', { reason: 'OUT_OF_RANGE' });
    }
    const digest = filterDigest(filter);
    const after = page.pageToken ? decodeToken(page.pageToken, digest) : -1;
    const limit = queryPageSize(page.pageSize);
    const entries = await this.store.query(filter, after, limit);
    // Recorded before the answer leaves: a query that cannot be logged is not answered.
    await this.recorder.recordQuery(auditor, filter, entries.length);
    const last = entries.at(-1);
    return {
      entries,
      nextPageToken: entries.length === limit && last ? encodeToken(last.index, digest) : '',
    };
  }

  /** The accesses to the citizen's own beneficiaries, newest first; nothing about anyone else. */
  async accessHistory(
    citizen: CitizenReader,
    page: { pageSize: number; pageToken: string },
  ): Promise<{ entries: LogEntry[]; nextPageToken: string }> {
    const digest = createHash('sha256')
      .update(citizen.mobileIndex)
      .digest('base64url')
      .slice(0, 16);
    const before = page.pageToken ? decodeToken(page.pageToken, digest) : undefined;
    const refs = await this.store.beneficiariesOf(citizen.mobileIndex);
    if (refs.length === 0) return { entries: [], nextPageToken: '' };
    const limit = queryPageSize(page.pageSize);
    const entries = await this.store.accessesOf(refs, before, limit);
    const last = entries.at(-1);
    return {
      entries,
      nextPageToken: entries.length === limit && last ? encodeToken(last.index, digest) : '',
    };
  }
}
