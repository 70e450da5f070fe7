import { describe, expect, it } from 'vitest';
import { InvalidRevocationIdError, InvalidRevocationListError } from './errors';
import {
  addRevocations,
  createRevocationList,
  deriveRid,
  indexRevocationList,
  parseRevocationList,
} from './revocation';
import { specCrl, SPEC_KID } from './test-support';

// generate-examples/src/config/issuer.hmac.private.json: the spec generator's secret,
// used as its UTF-8 text (the generator concatenates it with the kid as strings).
const SPEC_RID_SECRET = Buffer.from('GWdbF5850vxNt3HhHFl0dRvvN--C6rD77obJgGjK_Zg', 'utf8');

describe('deriveRid', () => {
  it("reproduces the spec examples' rids from their user ids", () => {
    const rid = (internalId: string) =>
      deriveRid({ secret: SPEC_RID_SECRET, kid: SPEC_KID, internalId });
    expect(rid('userid-00')).toBe('MKyCxh7p6uQ');
    expect(rid('userid-03')).toBe('vwAjHdarZuc');
    expect(rid('fake-userid-1')).toBe('FKDIxsTCGlU');
  });

  it('gives another rid under another key, so lists of two keys cannot be joined', () => {
    const secret = Buffer.alloc(32, 7);
    const a = deriveRid({ secret, kid: 'kid-a', internalId: 'bnf_0abc' });
    expect(a).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(deriveRid({ secret, kid: 'kid-b', internalId: 'bnf_0abc' })).not.toBe(a);
  });

  it('refuses a secret shorter than 256 bits', () => {
    expect(() => deriveRid({ secret: Buffer.alloc(16), kid: SPEC_KID, internalId: 'x' })).toThrow(
      InvalidRevocationIdError,
    );
  });
});

describe('revocation lists', () => {
  it('starts at ctr 1 and increments on each update that adds something', () => {
    const first = createRevocationList('kid1', [{ rid: 'AQPCj4wwk6Mt' }]);
    expect(first).toEqual({ kid: 'kid1', method: 'rid', ctr: 1, rids: ['AQPCj4wwk6Mt'] });
    const second = addRevocations(first, [
      { rid: 'lHKzqFUMjhs', issuedBefore: new Date('2021-11-15T12:00:00Z') },
      { rid: 'AQPCj4wwk6Mt' },
    ]);
    // The spec's own example entry: issued before November 15, 2021 12:00:00 PM GMT.
    expect(second).toEqual({ ...first, ctr: 2, rids: ['AQPCj4wwk6Mt', 'lHKzqFUMjhs.1636977600'] });
    expect(addRevocations(second, [{ rid: 'AQPCj4wwk6Mt' }])).toBe(second);
  });

  it('refuses a rid outside the base64url alphabet or longer than 24 characters', () => {
    expect(() => createRevocationList('kid1', [{ rid: 'not/base64' }])).toThrow(
      InvalidRevocationIdError,
    );
    expect(() => createRevocationList('kid1', [{ rid: 'a'.repeat(25) }])).toThrow(
      InvalidRevocationIdError,
    );
  });

  it("parses the spec's published list", () => {
    const list = parseRevocationList(specCrl());
    expect(list).toMatchObject({ kid: SPEC_KID, method: 'rid', ctr: 1 });
    expect(list.rids).toContain('vwAjHdarZuc.1664492124');
  });

  it('round-trips what it builds', () => {
    const list = createRevocationList('kid1', [
      { rid: 'abc', issuedBefore: new Date(1_000_000_000_000) },
    ]);
    expect(parseRevocationList(JSON.stringify(list))).toEqual(list);
  });

  it.each([
    ['not JSON', '{'],
    ['another method', { kid: 'k', method: 'hash', ctr: 1, rids: [] }],
    ['a zero counter', { kid: 'k', method: 'rid', ctr: 0, rids: [] }],
    ['a fractional counter', { kid: 'k', method: 'rid', ctr: 1.5, rids: [] }],
    ['a rid too long', { kid: 'k', method: 'rid', ctr: 1, rids: ['a'.repeat(25)] }],
    ['a rid with a bad suffix', { kid: 'k', method: 'rid', ctr: 1, rids: ['abc.12x'] }],
    ['a repeated entry', { kid: 'k', method: 'rid', ctr: 1, rids: ['abc', 'abc'] }],
    ['no rids', { kid: 'k', method: 'rid', ctr: 1 }],
  ])('refuses a list with %s', (_name, input) => {
    expect(() => parseRevocationList(input)).toThrow(InvalidRevocationListError);
  });

  it('revokes a bare rid always, and a timestamped rid only for cards issued before it', () => {
    const index = indexRevocationList(
      createRevocationList('kid1', [
        { rid: 'always' },
        { rid: 'before', issuedBefore: new Date(2_000_000_000) },
      ]),
    );
    expect(index.isRevoked('always', 9_999_999_999)).toBe(true);
    expect(index.isRevoked('before', 1_999_999.5)).toBe(true);
    expect(index.isRevoked('before', 2_000_000)).toBe(false);
    expect(index.isRevoked('other', 0)).toBe(false);
  });
});
