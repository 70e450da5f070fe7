import { sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidVerifierOptionsError } from './errors';
import { issueHealthCard } from './issue';
import { generateIssuerKey, type IssuerKey, type IssuerPublicJwk, jwksOf } from './keys';
import { toNumericQr } from './qr';
import { addRevocations, createRevocationList } from './revocation';
import {
  ISSUED_AT,
  ISSUER,
  SPEC_EXAMPLES_NOW,
  SPEC_ISSUER,
  SPEC_KID,
  specCrl,
  specExample00,
  specExample03,
  specJwks,
  twoDoseBundle,
} from './test-support';
import {
  createOfflineVerifier,
  type InvalidCardReason,
  type OfflineVerifierOptions,
} from './verifier';

const current = generateIssuerKey();
const retired = generateIssuerKey();
const stranger = generateIssuerKey();
const AFTER_ISSUE = () => new Date(ISSUED_AT.getTime() + 86_400_000);

function verifier(overrides: Partial<OfflineVerifierOptions> = {}) {
  return createOfflineVerifier({
    issuers: [{ iss: ISSUER, jwks: jwksOf([current, retired]) }],
    now: AFTER_ISSUE,
    ...overrides,
  });
}

function card(
  options: { key?: IssuerKey; rid?: string; issuedAt?: Date; covid19?: boolean } = {},
): string {
  return issueHealthCard({
    issuer: ISSUER,
    key: options.key ?? current,
    issuedAt: options.issuedAt ?? ISSUED_AT,
    bundle: twoDoseBundle(),
    ...(options.rid === undefined ? {} : { rid: options.rid }),
    ...(options.covid19 === undefined ? {} : { covid19: options.covid19 }),
  });
}

/** A card signed properly over any header and payload JSON: for shapes issueHealthCard never makes. */
function signedCard(
  payload: unknown,
  header: object = { alg: 'ES256', zip: 'DEF', kid: current.kid },
  compress: (json: string) => Buffer = (json) => deflateRawSync(json),
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${compress(
    JSON.stringify(payload),
  ).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: current.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function payloadOf(overrides: Record<string, unknown> = {}, vc: Record<string, unknown> = {}) {
  return {
    iss: ISSUER,
    nbf: ISSUED_AT.getTime() / 1000,
    vc: {
      type: ['https://smarthealth.cards#health-card'],
      credentialSubject: { fhirVersion: '4.0.1', fhirBundle: twoDoseBundle() },
      ...vc,
    },
    ...overrides,
  };
}

function reasonOf(input: unknown, v = verifier()): InvalidCardReason | undefined {
  const result = v.verify(input);
  return result.status === 'invalid' ? result.reason : undefined;
}

describe('offline verifier', () => {
  it('accepts our card as a JWS and as a scanned shc:/ text, and reads its content', () => {
    const jws = card({ rid: 'MKyCxh7p6uQ' });
    for (const input of [jws, toNumericQr(jws), `  ${toNumericQr(jws)}\n`]) {
      expect(verifier().verify(input)).toEqual({
        status: 'valid',
        iss: ISSUER,
        kid: current.kid,
        issuedAt: ISSUED_AT,
        rid: 'MKyCxh7p6uQ',
        patient: { name: 'Asha Verma', birthYear: 1985 },
        immunizations: [
          {
            status: 'completed',
            vaccineCodings: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '210' }],
            occurrenceDate: '2021-05-01',
            lotNumber: '4121Z040',
            performerName: 'PHC Kothrud, Pune',
          },
          expect.objectContaining({ occurrenceDate: '2021-08-01', lotNumber: '4121Z111' }),
        ],
      });
    }
  });

  it('accepts a COVID-19 card, which carries the covid19 type besides health-card', () => {
    const result = verifier().verify(toNumericQr(card({ covid19: true })));
    expect(result).toMatchObject({ status: 'valid', patient: { name: 'Asha Verma' } });
  });

  it('accepts a card signed with a rotated-out key while the key stays published', () => {
    const old = card({ key: retired });
    expect(verifier().verify(old)).toMatchObject({ status: 'valid', kid: retired.kid });
    // Withdrawn from the JWKS (the spec's answer to a compromised key): refused.
    const withdrawn = verifier({ issuers: [{ iss: ISSUER, jwks: jwksOf([current]) }] });
    expect(reasonOf(old, withdrawn)).toBe('UNKNOWN_KEY');
  });

  it('trusts the keys it was built with: a synced rotation takes effect in a verifier built from it', () => {
    const next = generateIssuerKey();
    const jwks = jwksOf([current]);
    const before = verifier({ issuers: [{ iss: ISSUER, jwks }] });
    const after = verifier({ issuers: [{ iss: ISSUER, jwks: jwksOf([next]) }] });
    const rotated = card({ key: next });
    expect(after.verify(rotated)).toMatchObject({ status: 'valid', kid: next.kid });
    expect(reasonOf(card(), after)).toBe('UNKNOWN_KEY');
    // Building the later verifier changed nothing in the earlier one.
    expect(before.verify(card())).toMatchObject({ status: 'valid', kid: current.kid });
    expect(reasonOf(rotated, before)).toBe('UNKNOWN_KEY');
    // Keys are read when the verifier is built, not from the caller's JWKS at each card.
    (jwks.keys as IssuerPublicJwk[]).push(next.publicJwk);
    expect(reasonOf(rotated, before)).toBe('UNKNOWN_KEY');
  });

  it('refuses a card whose kid the issuer does not publish', () => {
    expect(reasonOf(card({ key: stranger }))).toBe('UNKNOWN_KEY');
  });

  it('refuses a card from an issuer it does not trust, even one signed with a trusted key', () => {
    const foreign = issueHealthCard({
      issuer: 'https://other.example',
      key: stranger,
      issuedAt: ISSUED_AT,
      bundle: twoDoseBundle(),
    });
    expect(reasonOf(foreign)).toBe('UNKNOWN_ISSUER');
    // A trusted key signing for an issuer that does not publish it is not that issuer's card.
    const twoIssuers = verifier({
      issuers: [
        { iss: ISSUER, jwks: jwksOf([current]) },
        { iss: 'https://other.example', jwks: jwksOf([stranger]) },
      ],
    });
    expect(reasonOf(signedCard(payloadOf({ iss: 'https://other.example' })), twoIssuers)).toBe(
      'UNKNOWN_KEY',
    );
    expect(reasonOf(signedCard(payloadOf({ iss: 'https://unknown.example' })), twoIssuers)).toBe(
      'UNKNOWN_ISSUER',
    );
  });

  it('refuses a tampered payload and a tampered signature', () => {
    const [header, payload, signature] = card().split('.') as [string, string, string];
    const otherPayload = card({ issuedAt: new Date(ISSUED_AT.getTime() - 1000) }).split('.')[1]!;
    expect(reasonOf(`${header}.${otherPayload}.${signature}`)).toBe('BAD_SIGNATURE');
    const bytes = Buffer.from(signature, 'base64url');
    bytes[10] = bytes[10]! ^ 1;
    expect(reasonOf(`${header}.${payload}.${bytes.toString('base64url')}`)).toBe('BAD_SIGNATURE');
    expect(reasonOf(`${header}.${payload}.${bytes.subarray(0, 63).toString('base64url')}`)).toBe(
      'BAD_SIGNATURE',
    );
  });

  it.each([
    ['a number', 42],
    ['empty text', ''],
    ['two parts', 'eyJhIjoxfQ.eyJhIjoxfQ'],
    ['four parts', 'a.b.c.d'],
    ['a non-base64url part', 'eyJhIjoxfQ.e+J.abc'],
    ['an unsigned JWS', 'eyJhbGciOiJub25lIn0.eyJhIjoxfQ.'],
    ['a header that is not JSON', 'bm90IGpzb24.abc.abc'],
    ['a bad numeric QR', 'shc:/5676290'],
    ['a chunked QR', 'shc:/1/2/56762909'],
    ['far too long an input', 'a'.repeat(20_000)],
  ])('calls %s MALFORMED', (_name, input) => {
    expect(reasonOf(input)).toBe('MALFORMED');
  });

  it.each([
    ['alg none', { alg: 'none', zip: 'DEF', kid: current.kid }],
    ['no zip', { alg: 'ES256', kid: current.kid }],
    ['no kid', { alg: 'ES256', zip: 'DEF' }],
    ['a crit extension', { alg: 'ES256', zip: 'DEF', kid: current.kid, crit: ['b64'] }],
  ])('calls a header with %s UNSUPPORTED_HEADER', (_name, header) => {
    expect(reasonOf(signedCard(payloadOf(), header))).toBe('UNSUPPORTED_HEADER');
  });

  it('calls a signed payload that is not raw DEFLATE INFLATE_FAILED', () => {
    expect(reasonOf(signedCard(payloadOf(), undefined, (json) => Buffer.from(json)))).toBe(
      'INFLATE_FAILED',
    );
  });

  it('refuses a signed zip bomb without inflating it past the cap', () => {
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(reasonOf(signedCard(payloadOf(), undefined, () => bomb))).toBe('INFLATE_FAILED');
  });

  it('never inflates an unsigned payload under a known kid', () => {
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 0x20)).toString('base64url');
    const [header, , signature] = card().split('.') as [string, string, string];
    expect(reasonOf(`${header}.${bomb}.${signature}`)).toBe('BAD_SIGNATURE');
  });

  it.each([
    ['no health-card type', { type: ['https://smarthealth.cards#immunization'] }],
    ['a lab card', { credentialSubject: { fhirVersion: '4.0.1', fhirBundle: labBundle() } }],
  ])('calls a card with %s NOT_AN_IMMUNIZATION_CARD', (_name, vc) => {
    expect(reasonOf(signedCard(payloadOf({}, vc)))).toBe('NOT_AN_IMMUNIZATION_CARD');
  });

  it.each([
    [
      'a DSTU2 bundle',
      { credentialSubject: { fhirVersion: '1.0.2', fhirBundle: twoDoseBundle() } },
    ],
    ['no credentialSubject', { credentialSubject: undefined }],
    ['two patients', { credentialSubject: { fhirVersion: '4.0.1', fhirBundle: twoPatients() } }],
  ])('calls a card with %s BAD_FHIR', (_name, vc) => {
    expect(reasonOf(signedCard(payloadOf({}, vc)))).toBe('BAD_FHIR');
  });

  it.each([
    ['no iss', { iss: undefined }],
    ['a text nbf', { nbf: '1627898400' }],
    ['a text exp', { exp: 'never' }],
    ['no vc', { vc: undefined }],
  ])('calls a payload with %s MALFORMED', (_name, overrides) => {
    expect(reasonOf(signedCard(payloadOf(overrides)))).toBe('MALFORMED');
  });

  it('refuses a card issued in the future beyond the clock skew, and accepts one within it', () => {
    const soon = card({ issuedAt: new Date(AFTER_ISSUE().getTime() + 60_000) });
    expect(verifier().verify(soon).status).toBe('valid');
    const later = card({ issuedAt: new Date(AFTER_ISSUE().getTime() + 3_600_000) });
    expect(reasonOf(later)).toBe('NOT_YET_VALID');
  });

  it('refuses a card past its exp', () => {
    const exp = AFTER_ISSUE().getTime() / 1000 - 3_600;
    expect(reasonOf(signedCard(payloadOf({ exp })))).toBe('EXPIRED');
    expect(verifier().verify(signedCard(payloadOf({ exp: exp + 7_200 }))).status).toBe('valid');
  });

  it("reports a card whose rid is on its key's revocation list as revoked", () => {
    const list = createRevocationList(current.kid, [{ rid: 'revokedRid1' }]);
    const v = verifier({
      issuers: [
        { iss: ISSUER, jwks: jwksOf([current, retired]), revocations: { [current.kid]: list } },
      ],
    });
    expect(v.verify(card({ rid: 'revokedRid1' }))).toEqual({
      status: 'revoked',
      iss: ISSUER,
      kid: current.kid,
      issuedAt: ISSUED_AT,
      rid: 'revokedRid1',
    });
    expect(v.verify(card({ rid: 'otherRid' })).status).toBe('valid');
    // The list is per key: the same rid under another key is not revoked by it.
    expect(v.verify(card({ key: retired, rid: 'revokedRid1' })).status).toBe('valid');
  });

  it('honours a revocation timestamp: cards issued before it are revoked, later ones are not', () => {
    const cutOff = new Date(ISSUED_AT.getTime() + 1000);
    const list = addRevocations(createRevocationList(current.kid), [
      { rid: 'reissued', issuedBefore: cutOff },
    ]);
    const v = verifier({
      issuers: [
        {
          iss: ISSUER,
          jwks: jwksOf([current], { [current.kid]: list.ctr }),
          revocations: { [current.kid]: list },
        },
      ],
    });
    expect(v.verify(card({ rid: 'reissued' })).status).toBe('revoked');
    expect(v.verify(card({ rid: 'reissued', issuedAt: cutOff })).status).toBe('valid');
  });

  it('refuses to start with a revocation list older than the JWKS announces, or for another key', () => {
    const list = createRevocationList(current.kid, [{ rid: 'x' }]);
    const announcing = jwksOf([current], { [current.kid]: 2 });
    expect(() => verifier({ issuers: [{ iss: ISSUER, jwks: announcing }] })).toThrow(
      InvalidVerifierOptionsError,
    );
    expect(() =>
      verifier({
        issuers: [{ iss: ISSUER, jwks: announcing, revocations: { [current.kid]: list } }],
      }),
    ).toThrow(/version 2/);
    expect(() =>
      verifier({
        issuers: [{ iss: ISSUER, jwks: jwksOf([current]), revocations: { [retired.kid]: list } }],
      }),
    ).toThrow(InvalidVerifierOptionsError);
  });

  it('refuses to start with a JWKS holding a private key or a kid that is not the thumbprint', () => {
    const withD = { keys: [{ ...current.publicJwk, d: 'secret' }] };
    expect(() => verifier({ issuers: [{ iss: ISSUER, jwks: withD }] })).toThrow(
      InvalidVerifierOptionsError,
    );
    const wrongKid = { keys: [{ ...current.publicJwk, kid: retired.kid }] };
    expect(() => verifier({ issuers: [{ iss: ISSUER, jwks: wrongKid }] })).toThrow(
      InvalidVerifierOptionsError,
    );
  });

  it('never throws, whatever it is given', () => {
    const jws = card();
    const v = verifier();
    const inputs: unknown[] = [
      null,
      undefined,
      {},
      [],
      'shc:/',
      '..',
      '.',
      'a.',
      jws.slice(0, -1),
      `${jws}.`,
    ];
    for (let i = 0; i < 300; i++) {
      const at = (i * 7919) % jws.length;
      inputs.push(jws.slice(0, at) + String.fromCharCode(33 + (i % 90)) + jws.slice(at + 1));
    }
    inputs.push(signedCard('['.repeat(100_000)));
    for (const input of inputs)
      expect(['valid', 'invalid', 'revoked']).toContain(v.verify(input).status);
  });
});

describe("the spec's example cards", () => {
  const specVerifier = (now = SPEC_EXAMPLES_NOW) =>
    createOfflineVerifier({
      issuers: [{ iss: SPEC_ISSUER, jwks: specJwks(), revocations: { [SPEC_KID]: specCrl() } }],
      now: () => now,
    });

  it('verifies Example 0 (three COVID-19 doses) with its published issuer keys', () => {
    expect(specVerifier().verify(specExample00())).toMatchObject({
      status: 'valid',
      iss: SPEC_ISSUER,
      kid: SPEC_KID,
      rid: 'MKyCxh7p6uQ',
      patient: { name: 'John B. Anyperson', birthYear: 1951 },
      immunizations: [
        {
          occurrenceDate: '2021-01-01',
          lotNumber: '0000001',
          performerName: 'ABC General Hospital',
        },
        { occurrenceDate: '2021-01-29', lotNumber: '0000007' },
        {
          occurrenceDate: '2022-09-05',
          vaccineCodings: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '229' }],
        },
      ],
    });
    expect(specVerifier().verify(toNumericQr(specExample00())).status).toBe('valid');
  });

  it('reads Example 3 as the published list says: its rid is revoked only for cards issued before 2022-09-29', () => {
    // The list (ctr 1) holds vwAjHdarZuc.1664492124; the card was regenerated in 2024.
    expect(specVerifier().verify(specExample03())).toMatchObject({
      status: 'valid',
      rid: 'vwAjHdarZuc',
    });
    const bare = { kid: SPEC_KID, method: 'rid', ctr: 2, rids: ['vwAjHdarZuc'] };
    const revoking = createOfflineVerifier({
      issuers: [{ iss: SPEC_ISSUER, jwks: specJwks(), revocations: { [SPEC_KID]: bare } }],
      now: () => SPEC_EXAMPLES_NOW,
    });
    expect(revoking.verify(specExample03())).toMatchObject({
      status: 'revoked',
      rid: 'vwAjHdarZuc',
    });
  });

  it('refuses Example 3 after its exp (2025-05-07)', () => {
    expect(reasonOf(specExample03(), specVerifier(new Date('2025-06-01T00:00:00Z')))).toBe(
      'EXPIRED',
    );
  });

  it('refuses the examples when the spec issuer is not trusted', () => {
    expect(reasonOf(specExample00())).toBe('UNKNOWN_ISSUER');
  });
});

function labBundle() {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      twoDoseBundle().entry[0],
      {
        fullUrl: 'resource:1',
        resource: {
          resourceType: 'Observation',
          status: 'final',
          subject: { reference: 'resource:0' },
        },
      },
    ],
  };
}

function twoPatients() {
  const bundle = twoDoseBundle();
  return {
    ...bundle,
    entry: [
      bundle.entry[0],
      { ...bundle.entry[0], fullUrl: 'resource:9' },
      ...bundle.entry.slice(1),
    ],
  };
}
