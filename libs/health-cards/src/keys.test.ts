import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidIssuerKeyError } from './errors';
import { exportIssuerKey, generateIssuerKey, importIssuerKey, jwkThumbprint, jwksOf } from './keys';
import { specJwks, SPEC_KID } from './test-support';

describe('issuer keys', () => {
  it('makes ES256 keys whose kid is the RFC 7638 thumbprint, as jose computes it', async () => {
    const key = generateIssuerKey();
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
    expect(key.kid).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    expect(key.publicJwk).not.toHaveProperty('d');
  });

  it("computes the spec example key's published kid", () => {
    const [first] = (specJwks() as { keys: { x: string; y: string }[] }).keys;
    expect(jwkThumbprint({ crv: 'P-256', ...first! })).toBe(SPEC_KID);
  });

  it('exports and imports a key as a private JWK', () => {
    const key = generateIssuerKey();
    const stored = exportIssuerKey(key);
    expect(stored.d).toEqual(expect.any(String));
    const again = importIssuerKey(JSON.parse(JSON.stringify(stored)));
    expect(again.kid).toBe(key.kid);
    expect(createPublicKey(again.privateKey).export({ format: 'jwk' })).toMatchObject({
      x: key.publicJwk.x,
      y: key.publicJwk.y,
    });
  });

  it('refuses a stored key with a wrong kid, a foreign public point, or no d', () => {
    const stored = exportIssuerKey(generateIssuerKey());
    const other = generateIssuerKey().publicJwk;
    expect(() => importIssuerKey({ ...stored, kid: other.kid })).toThrow(InvalidIssuerKeyError);
    expect(() => importIssuerKey({ ...stored, x: other.x, y: other.y })).toThrow(
      InvalidIssuerKeyError,
    );
    expect(() => importIssuerKey(key_without_d(stored))).toThrow(InvalidIssuerKeyError);
    expect(() => importIssuerKey({ ...stored, crv: 'P-384' })).toThrow(InvalidIssuerKeyError);
  });

  it('publishes only public parts, once per kid, with crlVersion where a list exists', () => {
    const current = generateIssuerKey();
    const retired = generateIssuerKey();
    const jwks = jwksOf([current, retired, retired.publicJwk], { [retired.kid]: 3 });
    expect(jwks.keys.map((k) => k.kid)).toEqual([current.kid, retired.kid]);
    expect(JSON.stringify(jwks)).not.toContain('"d"');
    expect(jwks.keys[1]).toMatchObject({ kid: retired.kid, crlVersion: 3 });
    expect(jwks.keys[0]).not.toHaveProperty('crlVersion');
  });
});

function key_without_d(jwk: object): object {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => name !== 'd'));
}
