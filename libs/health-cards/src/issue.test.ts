import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidIssuerUrlError, InvalidRevocationIdError, JwsTooLargeError } from './errors';
import { buildImmunizationBundle } from './fhir';
import { issueHealthCard } from './issue';
import { generateIssuerKey } from './keys';
import { ISSUED_AT, ISSUER, TWO_DOSES, twoDoseBundle } from './test-support';

const key = generateIssuerKey();

function decode(jws: string) {
  const [header, payload] = jws.split('.') as [string, string];
  const json = inflateRawSync(Buffer.from(payload, 'base64url')).toString();
  return { header: JSON.parse(Buffer.from(header, 'base64url').toString()) as unknown, json };
}

describe('issueHealthCard', () => {
  it('signs a DEF-compressed payload with the spec header, verifiable by jose', async () => {
    const jws = issueHealthCard({
      issuer: ISSUER,
      key,
      issuedAt: ISSUED_AT,
      bundle: twoDoseBundle(),
      rid: 'MKyCxh7p6uQ',
    });
    const { header, json } = decode(jws);
    expect(header).toEqual({ alg: 'ES256', zip: 'DEF', kid: key.kid });
    expect(JSON.parse(json)).toEqual({
      iss: ISSUER,
      nbf: ISSUED_AT.getTime() / 1000,
      vc: {
        type: ['https://smarthealth.cards#health-card', 'https://smarthealth.cards#immunization'],
        credentialSubject: { fhirVersion: '4.0.1', fhirBundle: twoDoseBundle() },
        rid: 'MKyCxh7p6uQ',
      },
    });
    // Minified: the JSON text is exactly its compact serialisation.
    expect(json).toBe(JSON.stringify(JSON.parse(json)));
    // An independent JOSE implementation accepts the r‖s signature.
    const verified = await compactVerify(jws, await importJWK(key.publicJwk, 'ES256'));
    expect(verified.protectedHeader.kid).toBe(key.kid);
  });

  it('adds the covid19 type to a COVID-19 card, and only to one', () => {
    const typesOf = (covid19: boolean) => {
      const jws = issueHealthCard({
        issuer: ISSUER,
        key,
        issuedAt: ISSUED_AT,
        bundle: twoDoseBundle(),
        covid19,
      });
      return (JSON.parse(decode(jws).json) as { vc: { type: string[] } }).vc.type;
    };
    expect(typesOf(true)).toEqual([
      'https://smarthealth.cards#health-card',
      'https://smarthealth.cards#immunization',
      'https://smarthealth.cards#covid19',
    ]);
    expect(typesOf(false)).not.toContain('https://smarthealth.cards#covid19');
  });

  it('writes nbf in whole seconds', () => {
    const jws = issueHealthCard({
      issuer: ISSUER,
      key,
      issuedAt: new Date(1_620_000_000_999),
      bundle: twoDoseBundle(),
    });
    const claims = JSON.parse(decode(jws).json) as { nbf: number; vc: object };
    expect(claims.nbf).toBe(1_620_000_000);
    expect(claims.vc).not.toHaveProperty('rid');
  });

  it('refuses a card too long for one QR code', () => {
    const many = {
      ...TWO_DOSES,
      // Random lot numbers do not compress, as real ones barely do.
      immunizations: Array.from({ length: 20 }, () => ({
        ...TWO_DOSES.immunizations[0]!,
        lotNumber: randomBytes(12).toString('hex'),
      })),
    };
    const issue = () =>
      issueHealthCard({
        issuer: ISSUER,
        key,
        issuedAt: ISSUED_AT,
        bundle: buildImmunizationBundle(many),
      });
    expect(issue).toThrow(JwsTooLargeError);
    expect(issue).toThrow(/at most 1195/);
  });

  it.each(['http://127.0.0.1:58080/issuer', 'http://localhost:58080/issuer'])(
    'accepts the development exception, the loopback issuer %s',
    (issuer) => {
      const jws = issueHealthCard({ issuer, key, issuedAt: ISSUED_AT, bundle: twoDoseBundle() });
      expect((JSON.parse(decode(jws).json) as { iss: string }).iss).toBe(issuer);
    },
  );

  it.each([
    'http://cards.vaxguard.example',
    'http://10.0.0.7:58080/issuer',
    'http://127.0.0.1/issuer',
    'http://127.0.0.1:58080/issuer/',
    'https://cards.vaxguard.example/',
    'https://cards.vaxguard.example/issuer?v=1',
    'cards.vaxguard.example',
  ])('refuses the issuer URL %s', (issuer) => {
    expect(() =>
      issueHealthCard({ issuer, key, issuedAt: ISSUED_AT, bundle: twoDoseBundle() }),
    ).toThrow(InvalidIssuerUrlError);
  });

  it('refuses a rid the spec does not allow', () => {
    expect(() =>
      issueHealthCard({
        issuer: ISSUER,
        key,
        issuedAt: ISSUED_AT,
        bundle: twoDoseBundle(),
        rid: 'a.b',
      }),
    ).toThrow(InvalidRevocationIdError);
  });
});
