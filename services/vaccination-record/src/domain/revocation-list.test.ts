import {
  addRevocations,
  createRevocationList,
  generateIssuerKey,
  jwksOf,
  type IssuerKey,
} from '@vaxguard/health-cards';
import { describe, expect, it } from 'vitest';
import { CertificateService } from './certificate-service';
import type { IssuerPublicationSource, KeyPublication } from './model';
import { IssuerPublication, type ServedDocument } from './revocation-list';

/**
 * The store's side in memory: each key's rids in list order, the nth (from 0) listed at
 * version n + 2 and the counter at the last one's (1 with none), as PostgreSQL keeps
 * them. A read can be held open (`hold`) to let callers pile up behind it.
 */
class MemorySource implements IssuerPublicationSource {
  readonly keys: { readonly key: IssuerKey; readonly rids: string[] }[] = [];
  reads = 0;
  private held: Promise<void> | undefined;

  addKey(): IssuerKey {
    const key = generateIssuerKey();
    this.keys.unshift({ key, rids: [] });
    return key;
  }

  revoke(kid: string, ...rids: string[]): void {
    this.keys.find(({ key }) => key.kid === kid)?.rids.push(...rids);
  }

  /** Reads started from now wait until the returned function is called. */
  hold(): () => void {
    let release = (): void => undefined;
    this.held = new Promise<void>((resolve) => {
      release = () => {
        this.held = undefined;
        resolve();
      };
    });
    return release;
  }

  async publishedSince(known: ReadonlyMap<string, number>): Promise<readonly KeyPublication[]> {
    this.reads += 1;
    // What the database holds when the statement starts is what it answers.
    const snapshot = this.keys.map(({ key, rids }) => ({ key, rids: [...rids] }));
    await this.held;
    return snapshot.map(({ key, rids }) => {
      const held = known.get(key.kid);
      return {
        kid: key.kid,
        publicJwk: held === undefined ? key.publicJwk : undefined,
        crlVersion: rids.length + 1,
        added: rids.slice(Math.max(0, (held ?? 1) - 1)),
      };
    });
  }
}

const bytesOf = (document: ServedDocument) => Buffer.concat(document.chunks).toString('utf8');
const rid = (n: number) => `rid${n.toString(36).padStart(8, '0')}`;

describe('a key revocation list', () => {
  function serviceWithOneKey() {
    const source = new MemorySource();
    const key = source.addKey();
    const unused = {} as never;
    const service = new CertificateService({
      store: unused,
      access: unused,
      centres: unused,
      keys: {
        current: unused,
        byKid: unused,
        publishedSince: (known) => source.publishedSince(known),
      },
      clock: () => new Date('2024-03-01T10:00:00Z'),
      issuer: 'https://example.test',
      ridSecret: Buffer.alloc(32),
    });
    return { service, kid: key.kid };
  }

  it('is given for a published kid', async () => {
    const { service, kid } = serviceWithOneKey();
    expect((await service.revocationList(kid)).kid).toBe(kid);
  });

  // Found by the fuzz suite (issue 18): `toString` found Object.prototype's function, and
  // GetRevocationList answered INTERNAL (the answer could not be serialised).
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty', 'nobody'])(
    'is NOT_FOUND UNKNOWN_KID for a kid no key has, %s included',
    async (kid) => {
      await expect(serviceWithOneKey().service.revocationList(kid)).rejects.toMatchObject({
        code: 'NOT_FOUND',
        reason: 'UNKNOWN_KID',
      });
    },
  );
});

describe('the issuer publication', () => {
  it('serves the bytes of the list the spec functions build, revocation after revocation', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const publication = new IssuerPublication(source);
    let expected = createRevocationList(key.kid);
    const revoked: string[] = [];
    // Appends of one and of several rids, enough for the kept pieces to be merged.
    for (const added of [
      [],
      [rid(1)],
      [rid(2), rid(3)],
      ...Array.from({ length: 40 }, (_, i) => [rid(10 + i)]),
    ]) {
      source.revoke(key.kid, ...added);
      revoked.push(...added);
      expected = addRevocations(
        expected,
        added.map((r) => ({ rid: r })),
      );
      const published = await publication.current();
      const served = published.lists.get(key.kid);
      expect(served && bytesOf(served)).toBe(
        JSON.stringify({ ...expected, ctr: revoked.length + 1 }),
      );
      expect(served?.list()).toEqual({ ...expected, ctr: revoked.length + 1 });
      expect(served?.text()).toBe(served && bytesOf(served));
      expect(JSON.parse(published.jwksDocument.text())).toEqual(
        jwksOf([key], { [key.kid]: revoked.length + 1 }),
      );
    }
    // Pieces are merged as they grow: far fewer than the 41 appends.
    expect((await publication.current()).lists.get(key.kid)?.chunks.length).toBeLessThan(10);
  });

  it('keeps its ETag and its object while nothing changes, and a revocation changes both', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const other = source.addKey();
    const publication = new IssuerPublication(source);
    const first = await publication.current();
    const again = await publication.current();
    expect(again).toBe(first);
    source.revoke(key.kid, rid(1));
    const after = await publication.current();
    expect(after.lists.get(key.kid)?.etag).not.toBe(first.lists.get(key.kid)?.etag);
    expect(after.jwksDocument.etag).not.toBe(first.jwksDocument.etag);
    // The other key's list is the same document, not rebuilt.
    expect(after.lists.get(other.kid)).toBe(first.lists.get(other.kid));
    expect(publication.stats.listsRebuilt).toBe(1);
  });

  it('gives two instances reading one store the same bytes and ETags', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const early = new IssuerPublication(source);
    source.revoke(key.kid, rid(1), rid(2));
    await early.current();
    source.revoke(key.kid, rid(3));
    const late = new IssuerPublication(source);
    const [a, b] = await Promise.all([early.current(), late.current()]);
    const listA = a.lists.get(key.kid);
    const listB = b.lists.get(key.kid);
    expect(listA && bytesOf(listA)).toBe(listB && bytesOf(listB));
    expect(listA?.etag).toBe(listB?.etag);
    expect(a.jwksDocument.etag).toBe(b.jwksDocument.etag);
  });

  it('answers N concurrent callers during a change with at most two reads and one rebuild, each seeing what was committed before it asked', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const publication = new IssuerPublication(source);
    await publication.current();
    const readsBefore = source.reads;
    const release = source.hold();
    const first = publication.current();
    // Revoked after the first read began: callers from now on must see it.
    source.revoke(key.kid, rid(7));
    const later = Array.from({ length: 50 }, () => publication.current());
    release();
    const [earliest, ...rest] = await Promise.all([first, ...later]);
    expect(earliest?.lists.get(key.kid)?.ctr).toBe(1);
    for (const published of rest)
      expect(published.lists.get(key.kid)?.list().rids).toEqual([rid(7)]);
    expect(new Set(rest).size).toBe(1);
    expect(source.reads - readsBefore).toBe(2);
    expect(publication.stats.listsRebuilt).toBe(1);
  });

  it('reads a key whole again when its counter went back (a database restored)', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const publication = new IssuerPublication(source);
    source.revoke(key.kid, rid(1), rid(2));
    await publication.current();
    const entry = source.keys[0];
    entry?.rids.splice(0, entry.rids.length, rid(9));
    const published = await publication.current();
    expect(published.lists.get(key.kid)?.list()).toEqual({
      kid: key.kid,
      method: 'rid',
      ctr: 2,
      rids: [rid(9)],
    });
  });

  // Found by a measurement at 10^6 revoked rids: appending a first read with a spread
  // overflowed the stack.
  it('reads a list of a million rids at once', async () => {
    const source = new MemorySource();
    const key = source.addKey();
    const entry = source.keys[0];
    for (let n = 0; n < 1_000_000; n++) entry?.rids.push(rid(n));
    const served = (await new IssuerPublication(source).current()).lists.get(key.kid);
    expect(served?.ctr).toBe(1_000_001);
    expect(served?.list().rids.length).toBe(1_000_000);
  });

  it('publishes a new key beside the others', async () => {
    const source = new MemorySource();
    const old = source.addKey();
    const publication = new IssuerPublication(source);
    await publication.current();
    const rotated = source.addKey();
    const published = await publication.current();
    expect(published.jwks.keys.map((jwk) => jwk.kid)).toEqual([rotated.kid, old.kid]);
    expect([...published.lists.keys()].sort()).toEqual([old.kid, rotated.kid].sort());
  });
});
