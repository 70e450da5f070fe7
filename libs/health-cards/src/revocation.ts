import { createHmac } from 'node:crypto';
import { InvalidRevocationIdError, InvalidRevocationListError } from './errors';
import {
  CRL_ENTRY_FORMAT,
  MIN_RID_SECRET_BYTES,
  REVOCATION_METHOD,
  RID_FORMAT,
  RID_HMAC_BYTES,
} from './spec-rules';

/**
 * Card revocation by `rid` (spec: "Revocation"). A card carries `vc.rid`; each signing key
 * has one Card Revocation List, published at `<iss>/.well-known/crl/<kid>.json`, whose
 * entries are a rid, or a rid and `.<seconds>` revoking only cards issued before then.
 */
export interface RevocationList {
  readonly kid: string;
  readonly method: 'rid';
  /** How many times the list was updated, from 1; published as the key's `crlVersion`. */
  readonly ctr: number;
  readonly rids: readonly string[];
}

/** One revocation: a rid, and optionally the time before which its cards are revoked. */
export interface Revocation {
  readonly rid: string;
  /** Revokes only cards issued (`nbf`) before this; a card reissued later stays valid. */
  readonly issuedBefore?: Date;
}

/**
 * The spec's recommended rid for an internal id (a beneficiary reference, say):
 * base64url of the first 64 bits of HMAC-SHA-256 keyed with `secret ‖ kid`. The secret
 * (256 random bits, one for all keys) keeps published rids from being reversed to ids.
 */
export function deriveRid(options: {
  readonly secret: Uint8Array;
  readonly kid: string;
  readonly internalId: string;
}): string {
  if (options.secret.byteLength < MIN_RID_SECRET_BYTES) {
    throw new InvalidRevocationIdError('the rid secret must hold at least 256 bits');
  }
  if (options.internalId === '') throw new InvalidRevocationIdError('the internal id is empty');
  const key = Buffer.concat([options.secret, Buffer.from(options.kid, 'utf8')]);
  return createHmac('sha256', key)
    .update(options.internalId, 'utf8')
    .digest()
    .subarray(0, RID_HMAC_BYTES)
    .toString('base64url');
}

/** A kid is a base64url SHA-256 thumbprint (43 characters); any base64url word is read. */
const KID_FORMAT = /^[A-Za-z0-9_-]+$/;

export function isValidRid(rid: unknown): rid is string {
  return typeof rid === 'string' && RID_FORMAT.test(rid);
}

function entryOf(revocation: Revocation): string {
  if (!isValidRid(revocation.rid)) {
    throw new InvalidRevocationIdError('a rid is 1 to 24 base64url characters');
  }
  if (revocation.issuedBefore === undefined) return revocation.rid;
  const seconds = Math.floor(revocation.issuedBefore.getTime() / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new InvalidRevocationIdError('issuedBefore must be a valid time after 1970');
  }
  return `${revocation.rid}.${seconds}`;
}

/** A key's first revocation list: counter 1 ("initial value is 1"). */
export function createRevocationList(
  kid: string,
  revocations: readonly Revocation[] = [],
): RevocationList {
  if (!KID_FORMAT.test(kid)) {
    throw new InvalidRevocationListError('kid must be a base64url thumbprint');
  }
  return { kid, method: REVOCATION_METHOD, ctr: 1, rids: [...new Set(revocations.map(entryOf))] };
}

/**
 * The list with more revocations and its counter incremented, as the spec asks after
 * each update. Entries already listed are not repeated; if nothing is new, the list is
 * returned as it was, so verifiers holding it need not fetch it again.
 */
export function addRevocations(
  list: RevocationList,
  revocations: readonly Revocation[],
): RevocationList {
  const known = new Set(list.rids);
  const added = [...new Set(revocations.map(entryOf))].filter((entry) => !known.has(entry));
  if (added.length === 0) return list;
  return { ...list, ctr: list.ctr + 1, rids: [...list.rids, ...added] };
}

/**
 * A revocation list as fetched (the JSON text or the parsed value), checked against the
 * spec: method `rid`, a positive integer counter, entries in the rid format, no repeats.
 * The spec's example writes `"<<ctr>>"` in quotes and its published file a number: both
 * are read.
 */
export function parseRevocationList(input: unknown): RevocationList {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input) as unknown;
    } catch (error) {
      throw new InvalidRevocationListError('the revocation list is not JSON', error);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRevocationListError('a revocation list is a JSON object');
  }
  const { kid, method, ctr, rids } = value as Record<string, unknown>;
  if (typeof kid !== 'string' || !KID_FORMAT.test(kid)) {
    throw new InvalidRevocationListError('kid must be a base64url key id');
  }
  if (method !== REVOCATION_METHOD) throw new InvalidRevocationListError('method must be "rid"');
  const counter = typeof ctr === 'string' && /^\d{1,15}$/.test(ctr) ? Number(ctr) : ctr;
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 1) {
    throw new InvalidRevocationListError('ctr must be a positive integer');
  }
  if (!Array.isArray(rids)) throw new InvalidRevocationListError('rids must be a list');
  const seen = new Set<string>();
  for (const entry of rids) {
    if (typeof entry !== 'string' || !CRL_ENTRY_FORMAT.test(entry)) {
      throw new InvalidRevocationListError('each rids entry is a rid, optionally .<seconds>');
    }
    if (seen.has(entry)) throw new InvalidRevocationListError('rids lists an entry twice');
    seen.add(entry);
  }
  return { kid, method: REVOCATION_METHOD, ctr: counter, rids: [...seen] };
}

/** A list compiled for lookups: is a card with this rid, issued at `nbf`, revoked? */
export interface RevocationIndex {
  readonly ctr: number;
  isRevoked(rid: string, nbfSeconds: number): boolean;
}

export function indexRevocationList(list: RevocationList): RevocationIndex {
  const always = new Set<string>();
  // The latest cut-off per rid: a card is revoked if issued before any of its entries.
  const before = new Map<string, number>();
  for (const entry of list.rids) {
    const match = CRL_ENTRY_FORMAT.exec(entry);
    if (!match)
      throw new InvalidRevocationListError('each rids entry is a rid, optionally .<seconds>');
    const [, rid, seconds] = match as unknown as [string, string, string | undefined];
    if (seconds === undefined) always.add(rid);
    else before.set(rid, Math.max(before.get(rid) ?? 0, Number(seconds)));
  }
  return {
    ctr: list.ctr,
    isRevoked(rid, nbfSeconds) {
      if (always.has(rid)) return true;
      const cutOff = before.get(rid);
      // "the Health Card's nbf value is before the timestamp".
      return cutOff !== undefined && nbfSeconds < cutOff;
    },
  };
}
