import { invalidArgument, outOfRange, permissionDenied } from '@vaxguard/errors';
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
