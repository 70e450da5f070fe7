import { describe, expect, it } from 'vitest';
import { decodeJsonObject, splitCompactJws } from './compact';

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('splitCompactJws', () => {
  it('gives the three parts and the signing input', () => {
    const header = part({ alg: 'EdDSA' });
    const payload = part({ sub: 'x' });
    expect(splitCompactJws(`${header}.${payload}.c2ln`)).toEqual({
      header,
      payload,
      signature: 'c2ln',
      signingInput: `${header}.${payload}`,
    });
  });

  it('keeps an empty signature, for the verifier to refuse by the header', () => {
    expect(splitCompactJws('eyJhIjoxfQ.eyJhIjoxfQ.')?.signature).toBe('');
  });

  it.each([
    ['empty text', ''],
    ['two parts', 'eyJhIjoxfQ.eyJhIjoxfQ'],
    ['four parts', 'a.b.c.d'],
    ['an empty header', '.eyJhIjoxfQ.c2ln'],
    ['an empty payload', 'eyJhIjoxfQ..c2ln'],
    ['a non-base64url payload', 'eyJhIjoxfQ.e+J.abc'],
    ['padding', 'eyJhIjoxfQ==.eyJhIjoxfQ.c2ln'],
    ['a non-base64url signature', 'eyJhIjoxfQ.eyJhIjoxfQ.c2/n'],
  ])('refuses %s', (_name, text) => {
    expect(splitCompactJws(text)).toBeUndefined();
  });
});

describe('decodeJsonObject', () => {
  it('reads a JSON object, and nothing else', () => {
    expect(decodeJsonObject(part({ alg: 'ES256', zip: 'DEF' }))).toEqual({
      alg: 'ES256',
      zip: 'DEF',
    });
    for (const other of [[1], 'text', 42, null]) {
      expect(decodeJsonObject(part(other))).toBeUndefined();
    }
    expect(decodeJsonObject(Buffer.from('not json').toString('base64url'))).toBeUndefined();
  });
});
