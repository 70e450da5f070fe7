import { createHash, type Hash } from 'node:crypto';
import {
  jwksOf,
  type IssuerPublicJwk,
  type Jwks,
  type RevocationList,
} from '@vaxguard/health-cards';
import type { IssuerPublicationSource, KeyPublication } from './model';

/**
 * A document as served over HTTP: its bytes, in pieces written one after another (never
 * joined for a GET), and a strong ETag derived from those bytes. Equal bytes on every
 * instance give equal ETags.
 */
export interface ServedDocument {
  readonly etag: string;
  readonly chunks: readonly Buffer[];
  /** The document as one string (for gRPC), joined once per version and kept. */
  text(): string;
}

/** One key's revocation list as published at one version. */
export interface ServedRevocationList extends ServedDocument {
  readonly kid: string;
  readonly ctr: number;
  /** The list itself (the rids copied once per version, on first use, and kept). */
  list(): RevocationList;
}

/** The issuer's keys and their revocation lists, as one consistent version. */
export interface PublishedIssuer {
  readonly jwks: Jwks;
  readonly jwksDocument: ServedDocument;
  /** Every key's list, by kid; `Map`, so `toString` is never a kid. */
  readonly lists: ReadonlyMap<string, ServedRevocationList>;
  /** Every key's list, as the offline verifier takes them (built once per version). */
  revocationLists(): Readonly<Record<string, RevocationList>>;
}

/**
 * The issuer's keys and revocation lists kept in memory and brought up to date from the
 * store by position: each key's list counter moves with every revocation of that key
 * (its `ctr`, published as the key's `crlVersion`), and each revoked rid carries the
 * counter that first listed it, so a read asks only for the rids after the counter this
 * instance holds and appends them. Nothing is re-aggregated and nothing is re-serialised
 * whole: a list's bytes are kept as a few pieces, the new rids' piece added (pieces of
 * similar size merged, so there are O(log n) of them), and its ETag comes from a running
 * hash of them.
 *
 * Every `current()` is answered by a read of the store that began after it was asked,
 * so a revocation committed before the call is in the answer, on every instance. Calls
 * made while a read is running share the next read (single flight): N concurrent callers
 * cost at most two reads and one rebuild of what changed.
 */
export class IssuerPublication {
  private readonly keys = new Map<string, KeyListState>();
  private published: PublishedIssuer | undefined;
  private reading: Promise<PublishedIssuer> | undefined;
  private next: Promise<PublishedIssuer> | undefined;
  private rebuiltLists = 0;
  private reads = 0;

  constructor(private readonly source: IssuerPublicationSource) {}

  /** How many times a key's list was rebuilt (new rids appended) and the store read. */
  get stats(): { readonly listsRebuilt: number; readonly reads: number } {
    return { listsRebuilt: this.rebuiltLists, reads: this.reads };
  }

  /** The keys and lists as they stand now (see the class comment). */
  current(): Promise<PublishedIssuer> {
    if (!this.reading) return this.read();
    // The read under way may have begun before this call: wait for the one after it.
    this.next ??= this.reading
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.read();
      });
    return this.next;
  }

  private read(): Promise<PublishedIssuer> {
    const reading = this.refresh().finally(() => {
      if (this.reading === reading) this.reading = undefined;
    });
    this.reading = reading;
    return reading;
  }

  private async refresh(): Promise<PublishedIssuer> {
    let rows = await this.fetch();
    // A counter that went back (a database restored from a backup): read that key whole.
    const regressed = rows.filter((row) => row.crlVersion < (this.keys.get(row.kid)?.ctr ?? 0));
    if (regressed.length > 0) {
      for (const row of regressed) this.keys.delete(row.kid);
      rows = await this.fetch();
    }
    let changed = this.published === undefined || rows.length !== this.keys.size;
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.kid);
      let state = this.keys.get(row.kid);
      if (!state) {
        if (!row.publicJwk) throw new Error(`the store gave no public key for new kid ${row.kid}`);
        state = new KeyListState(row.kid, row.publicJwk);
        this.keys.set(row.kid, state);
        changed = true;
      }
      if (row.crlVersion !== state.ctr) {
        state.append(row.crlVersion, row.added);
        this.rebuiltLists += 1;
        changed = true;
      }
    }
    for (const kid of [...this.keys.keys()]) if (!seen.has(kid)) this.keys.delete(kid);
    if (changed || !this.published) {
      this.published = publishedOf(rows.map((row) => this.keys.get(row.kid) as KeyListState));
    }
    return this.published;
  }

  private fetch(): Promise<readonly KeyPublication[]> {
    this.reads += 1;
    return this.source.publishedSince(
      new Map([...this.keys.values()].map((state) => [state.kid, state.ctr])),
    );
  }
}

/** One key's list as this instance holds it: every rid in list order, and its bytes. */
class KeyListState {
  /** The counter of a list nobody revoked from yet: 1 (spec: "initial value is 1"). */
  ctr = 1;
  private readonly rids: string[] = [];
  /** The bytes of the rids as they sit in the document (`"a","b",...`), in pieces. */
  private readonly pieces: Buffer[] = [];
  private readonly ridsHash: Hash = createHash('sha256');
  served: ServedRevocationList;

  constructor(
    readonly kid: string,
    readonly publicJwk: IssuerPublicJwk,
  ) {
    this.served = this.snapshot();
  }

  append(ctr: number, added: readonly string[]): void {
    if (added.length > 0) {
      const text =
        (this.rids.length > 0 ? ',' : '') + added.map((rid) => JSON.stringify(rid)).join(',');
      const piece = Buffer.from(text, 'utf8');
      this.ridsHash.update(piece);
      this.pieces.push(piece);
      // Like a binary counter: a piece at least as long as the one before is merged into
      // it, so pieces shrink geometrically and each byte is copied O(log n) times.
      while (this.pieces.length >= 2) {
        const last = this.pieces[this.pieces.length - 1] as Buffer;
        const before = this.pieces[this.pieces.length - 2] as Buffer;
        if (last.length < before.length) break;
        this.pieces.splice(-2, 2, Buffer.concat([before, last]));
      }
      // One by one: a spread of a first read of millions overflows the stack.
      for (const rid of added) this.rids.push(rid);
    }
    this.ctr = ctr;
    this.served = this.snapshot();
  }

  private snapshot(): ServedRevocationList {
    const { kid, ctr } = this;
    const count = this.rids.length;
    const rids = this.rids;
    // Key order as createRevocationList gives it, so the bytes are JSON.stringify's.
    const head = Buffer.from(`{"kid":${JSON.stringify(kid)},"method":"rid","ctr":${ctr},"rids":[`);
    const tail = Buffer.from(']}');
    const chunks = [head, ...this.pieces, tail];
    const etag = strongEtag(
      createHash('sha256').update(head).update(this.ridsHash.copy().digest()).update(tail),
    );
    let list: RevocationList | undefined;
    return {
      kid,
      ctr,
      etag,
      chunks,
      text: memo(() => Buffer.concat(chunks).toString('utf8')),
      list: () => (list ??= { kid, method: 'rid', ctr, rids: rids.slice(0, count) }),
    };
  }
}

function publishedOf(states: readonly KeyListState[]): PublishedIssuer {
  const jwks = jwksOf(
    states.map((state) => state.publicJwk),
    Object.fromEntries(states.map((state) => [state.kid, state.ctr])),
  );
  const jwksBytes = Buffer.from(JSON.stringify(jwks), 'utf8');
  const lists = new Map(states.map((state) => [state.kid, state.served]));
  let revocationLists: Record<string, RevocationList> | undefined;
  return {
    jwks,
    jwksDocument: {
      etag: strongEtag(createHash('sha256').update(jwksBytes)),
      chunks: [jwksBytes],
      text: memo(() => jwksBytes.toString('utf8')),
    },
    lists,
    revocationLists: () =>
      (revocationLists ??= Object.fromEntries(
        [...lists].map(([kid, served]) => [kid, served.list()]),
      )),
  };
}

/** A strong validator (RFC 9110 §8.8.3): quoted, from the document's bytes. */
function strongEtag(hash: Hash): string {
  return `"${hash.digest('base64url').slice(0, 32)}"`;
}

function memo<T>(make: () => T): () => T {
  let value: { readonly made: T } | undefined;
  return () => (value ??= { made: make() }).made;
}
