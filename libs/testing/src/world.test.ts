import { describe, expect, it } from 'vitest';
import { findRawValues } from './world';

const raw = () => ({
  mobiles: new Set(['9876543210']),
  identityNumbers: new Set(['234567890124']),
  codes: new Set(['482913']),
  tokens: new Set(['eyJhbGciOiJFZERTQSJ9.e30.c2ln']),
});

describe('the leak scan', () => {
  it('finds a mobile in every spelling: digits, +91, spaced, base64, inside a longer base64 field, as bytea hex', () => {
    const mobile = '9876543210';
    const hidden = Buffer.from(`{"note":"call ${mobile} now"}`).toString('base64');
    const places = {
      digits: `x ${mobile} y`,
      plus91: 'to +919876543210',
      spaced: 'to 98765 43210',
      base64: Buffer.from(`+91 ${mobile}`).toString('base64'),
      embedded: `payload ${hidden}`,
      bytea: `\\x${Buffer.from(`..${mobile}..`).toString('hex')}`,
    };
    const found = findRawValues(places, raw());
    for (const place of Object.keys(places)) {
      expect(
        found.some((line) => line.startsWith(`${place}:`)),
        place,
      ).toBe(true);
    }
    // What it reports never repeats the value whole.
    expect(found.join('\n')).not.toContain(mobile);
  });

  it('finds identity numbers spaced, tokens, and codes standing alone, not codes inside longer runs', () => {
    const found = findRawValues(
      {
        aadhaar: 'id 2345 6789 0124',
        token: 'Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln',
        code: 'your code is 482913.',
        hex: 'id a482913f and 1482913',
      },
      raw(),
    );
    expect(found.filter((line) => line.startsWith('aadhaar:'))).not.toEqual([]);
    expect(found.filter((line) => line.startsWith('token:'))).not.toEqual([]);
    expect(found.filter((line) => line.startsWith('code:'))).toEqual(['code: an OTP code']);
    expect(found.filter((line) => line.startsWith('hex:'))).toEqual([]);
  });

  it('finds nothing in text that holds none of the values', () => {
    expect(findRawValues({ clean: 'bnf_0123 XXXXXX3210 ok' }, raw())).toEqual([]);
  });
});
