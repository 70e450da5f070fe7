import {
  failedPrecondition,
  invalidArgument,
  outOfRange,
  permissionDenied,
} from '@vaxguard/errors';
import type { StaffReader } from './model';

/**
 * The rules of the audit log, each a named constant or a small pure function.
 */

// ---- Checkpoints ---------------------------------------------------------------------

/** When the log signs a new checkpoint: after this many new entries, or this long. */
export interface CheckpointPolicy {
  readonly everyEntries: number;
  readonly intervalMs: number;
}

/**
 * Defaults: 1,000 entries or 1 second. A checkpoint costs one Ed25519 signature and
 * one row; an auditor holding the last one sees at most a second of unsigned entries.
 */
export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = {
  everyEntries: 1_000,
  intervalMs: 1_000,
};

/**
 * Whether the tree of `size` leaves needs a new checkpoint. The first is signed even
 * for the empty tree, so there is always one to serve; a tree that has not grown is
 * never signed again.
 */
export function checkpointDue(
  size: number,
  last: { readonly size: number; readonly createdAt: Date } | undefined,
  now: Date,
  policy: CheckpointPolicy,
): boolean {
  if (!last) return true;
  if (size <= last.size) return false;
  return (
    size - last.size >= policy.everyEntries ||
    now.getTime() - last.createdAt.getTime() >= policy.intervalMs
  );
}

// ---- What the log keeps outside its database, and its witnesses -------------------------

/**
 * When nothing has been cosigned for this long while the log has something to cosign,
 * a HIGH alert (CHECKPOINT_NOT_COSIGNED) fires, once per stall: long enough to ride out
 * a witness's restart, short enough that auditors hear of a silenced witness the same
 * hour (the issue asks for five minutes).
 */
export const NOT_COSIGNED_ALERT_AFTER_MS = 5 * 60_000;

// ---- Who reads entries ---------------------------------------------------------------

/** Entries name who did what to whom: only these staff roles read them. */
export const AUDITOR_ROLES: ReadonlySet<string> = new Set(['AUDITOR', 'PLATFORM_ADMIN']);

export function requireAuditor(reader: StaffReader | undefined): StaffReader {
  if (!reader || !AUDITOR_ROLES.has(reader.role)) {
    throw permissionDenied('only auditors read the audit log', { reason: 'NOT_AUDITOR' });
  }
  return reader;
}

// ---- Paging and ranges ---------------------------------------------------------------

/**
 * The longest filter (actor id, subject ref, event type) a query may name: ids are far
 * shorter, and the filters go into the audit.queried entry, whose subject is indexed
 * (a PostgreSQL btree row holds at most 2704 bytes; one longer stops the log's ingestion).
 */
export const MAX_FILTER_LENGTH = 256;

/** A filter value a query may name: not too long, and no NUL, which PostgreSQL text cannot hold. */
export function isFilterValue(value: string): boolean {
  return value.length <= MAX_FILTER_LENGTH && !value.includes('\u0000');
}

export const DEFAULT_ENTRIES_PAGE = 100;
/** At most this many entries per GetEntries page (entries are a few hundred bytes). */
export const MAX_ENTRIES_PAGE = 1_000;
/** VerifyLog reads the log this many entries at a time. */
export const VERIFY_PAGE = 5_000;

/**
 * One VerifyLog call verifies at most this many entries (and the checkpoints that fall
 * among them), then answers how far it got and a page token to go on: its time and
 * memory stay those of one page however large the log (10^4 entries: a few MB read,
 * ten signatures at the default checkpoint policy, well inside a call's deadline).
 */
export const MAX_VERIFY_LOG_PAGE = 10_000;

/** A requested VerifyLog page: 0 means the largest; none is above it. */
export function verifyLogPageSize(requested: number): number {
  return sizeWithin(requested, { byDefault: MAX_VERIFY_LOG_PAGE, max: MAX_VERIFY_LOG_PAGE });
}

// ---- A citizen's access history -----------------------------------------------------

/**
 * GetMyAccessHistory gives at most this many accesses a page (0 asks for this many).
 * A page reads at most this many accesses of each of the citizen's beneficiaries
 * (newest first, from the page token's position), so its cost is bounded by
 * MAX_ACCESS_HISTORY_PAGE × MAX_CITIZEN_BENEFICIARIES_READ entries however long the
 * history or the log (in practice a page and one more per beneficiary: the walks are
 * merged and pulled only as far as the page needs).
 */
export const MAX_ACCESS_HISTORY_PAGE = 100;

/**
 * The most beneficiaries of one mobile an access history reads. Identity registers at most 4 on a mobile (MAX_BENEFICIARIES_PER_MOBILE);
 * this leaves room for that rule to grow and bounds each page's reads if it ever did.
 */
export const MAX_CITIZEN_BENEFICIARIES_READ = 16;

export function accessHistoryPageSize(requested: number): number {
  return sizeWithin(requested, {
    byDefault: MAX_ACCESS_HISTORY_PAGE,
    max: MAX_ACCESS_HISTORY_PAGE,
  });
}

/** A requested page (or chunk) size: 0 means the default, and none is above the largest. */
export function sizeWithin(
  requested: number,
  limits: { readonly byDefault: number; readonly max: number },
): number {
  return requested === 0 ? limits.byDefault : Math.min(requested, limits.max);
}

export function entriesPageSize(requested: number): number {
  return sizeWithin(requested, { byDefault: DEFAULT_ENTRIES_PAGE, max: MAX_ENTRIES_PAGE });
}

interface PagePosition {
  readonly next: number;
  readonly end: number;
}

/** An opaque token for the rest of a range: where to go on, and where the range ends. */
export function encodePageToken(position: PagePosition): string {
  return Buffer.from(JSON.stringify({ n: position.next, e: position.end })).toString('base64url');
}

export function decodePageToken(token: string): PagePosition {
  try {
    const { n, e } = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
      n: unknown;
      e: unknown;
    };
    if (
      Number.isSafeInteger(n) &&
      Number.isSafeInteger(e) &&
      (n as number) >= 0 &&
      (n as number) <= (e as number)
    ) {
      return { next: n as number, end: e as number };
    }
  } catch {
    // falls through to the refusal
  }
  throw invalidArgument('the page token is not one this service gave', {
    reason: 'BAD_PAGE_TOKEN',
  });
}

/**
 * A tree size or index from the wire (uint64 as decimal text), within what JavaScript
 * counts exactly. A uint64 beyond that is well-formed but past the end of any log we
 * will hold: OUT_OF_RANGE, like any other position past the end.
 */
export function parsePosition(text: string, what: string): number {
  const message = `${what} must be a whole number below 2^53`;
  if (!/^(?:0|[1-9][0-9]*)$/.test(text)) {
    throw invalidArgument(message, { reason: 'OUT_OF_RANGE' });
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw outOfRange(message, { reason: 'OUT_OF_RANGE' });
  return value;
}

/**
 * Entries [start, end) of a log of `size` entries. The gRPC error model: a range past
 * the end is OUT_OF_RANGE (the same request may succeed once the log grows); a range
 * that ends before it starts is INVALID_ARGUMENT (it never will).
 */
export function checkEntryRange(start: number, end: number, size: number): void {
  if (start > size || end > size) {
    throw outOfRange(`the log has ${size} entries; the range goes past its end`, {
      reason: 'OUT_OF_RANGE',
    });
  }
  if (start > end) {
    throw invalidArgument(`the range ends (${end}) before it starts (${start})`, {
      reason: 'OUT_OF_RANGE',
    });
  }
}

/** Whether two hashes are the same bytes. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

// ---- Storage for size: partitions, time filters, duplicates ----------------------------

/**
 * Entries are stored in partitions of this many consecutive indexes (pg_partman, native
 * range partitioning on entry_index): at the national rate (about 3,500 entries a
 * second) one a few minutes, a few hundred MB, small enough to detach and archive
 * whole, few enough that a query's plan names a handful. Fixed when the table is made.
 */
export const ENTRIES_PER_PARTITION = 1_000_000;

/**
 * Partitions kept made ahead of the newest entry. An append past the last partition is
 * refused (there is no default partition, so no entry is ever stored outside its
 * range): 4 × 10^6 entries is about 20 minutes of national peak traffic, against a
 * maintenance run every minute.
 */
export const PARTITIONS_AHEAD = 4;

/** How often the service runs pg_partman's maintenance (making partitions ahead). */
export const PARTITION_MAINTENANCE_INTERVAL_MS = 60_000;

/**
 * How a time filter maps to a range of entries. `from`/`to` filter on occurred_at, the
 * producer's clock, which is not monotonic in entry order; ingestion is. Every entry
 * below a checkpoint's size was ingested by that checkpoint's time (the single writer
 * signs it after appending them), and an event is ingested after it occurred, give or
 * take the clocks' skew. So entries that occurred at or after `from` all lie at or
 * above the size of the last checkpoint signed before `from - TIME_FILTER_SLACK_MS`:
 * the query reads from there (one index probe of the checkpoints) and filters on
 * occurred_at exactly inside the range. The slack covers a producer's clock running
 * ahead of audit's by up to two minutes (NTP keeps servers within a second); it costs
 * reading two minutes of extra entries before `from`. `to` gives no upper bound: an
 * event may be ingested long after it occurred (Kafka or audit down), so the range
 * runs to the end of the log and the page limit ends the read.
 */
export const TIME_FILTER_SLACK_MS = 2 * 60_000;

/** The latest ingestion time from which entries that occurred at `from` or later can start. */
export function ingestedNoEarlierThan(from: Date): Date {
  return new Date(from.getTime() - TIME_FILTER_SLACK_MS);
}

/**
 * How long the log's consumer remembers an applied event id (its processed_events
 * rows): a redelivery within this window is recognised and skipped. It is the only
 * guard of "one entry per event": entries are partitioned by index, so no index can
 * hold every event id (a unique index must contain the partition key). 7 days: Kafka's
 * default offset and topic retention, beyond which nothing is redelivered by default.
 */
export const DEDUP_WINDOW_MS = 7 * 24 * 3_600_000;

/**
 * The margin between the oldest event the log appends and its dedup window: the skew of
 * a producer's clock behind audit's that the rule tolerates.
 */
export const EVENT_AGE_MARGIN_MS = 3_600_000;

/** Events made longer ago than this are refused (see tooOldToAppend). */
export const MAX_EVENT_AGE_MS = DEDUP_WINDOW_MS - EVENT_AGE_MARGIN_MS;

/**
 * Whether an event made at `madeAt` (its UUIDv7 id's time; an older event's occurred_at)
 * is too old to append at `now`: its id may already have left the dedup window, so a
 * first delivery cannot be told from a redelivery. Such an event is refused, logged
 * with its id and counted, never appended (a second entry for the same event would be
 * worse than none: the first delivery was appended when it came within the window).
 */
export function tooOldToAppend(madeAt: Date, now: Date): boolean {
  return now.getTime() - madeAt.getTime() > MAX_EVENT_AGE_MS;
}

/**
 * Entries below `firstHeld` were archived: their partitions were detached from the log
 * (README: archiving old entries). Their tree nodes stay, so checkpoints, inclusion and
 * consistency proofs still hold; their bytes are read from the archive, not the service.
 */
export function entriesArchived(start: number, firstHeld: number): Error {
  return failedPrecondition(
    `entries below ${firstHeld} are archived (their partitions were detached); entry ${start} is not served`,
    { reason: 'ENTRIES_ARCHIVED' },
  );
}
