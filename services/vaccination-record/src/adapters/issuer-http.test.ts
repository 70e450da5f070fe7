import { inflateRawSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { notFound } from '@vaxguard/errors';
import {
  buildImmunizationBundle,
  createOfflineVerifier,
  createRevocationList,
  generateIssuerKey,
  issueHealthCard,
  jwksOf,
} from '@vaxguard/health-cards';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { freePort } from '@vaxguard/testing';
import { startIssuerHttp } from './issuer-http';

const key = generateIssuerKey();
const REVOKED_RID = 'MKyCxh7p6uQ';

function card(issuer: string, rid: string): string {
  return issueHealthCard({
    issuer,
    key,
    issuedAt: new Date(),
    rid,
    bundle: buildImmunizationBundle({
      patient: { givenNames: ['Asha'], birthYear: 1961 },
      immunizations: [
        {
          vaccineCodings: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '210' }],
          occurrenceDate: '2021-05-01',
          lotNumber: '4121Z040',
          performerName: 'PHC Kothrud',
        },
      ],
    }),
  });
}

/** A document served whole, in two pieces, with an ETag of the test's own. */
function documentOf(value: unknown) {
  const text = JSON.stringify(value);
  const half = Math.floor(text.length / 2);
  return {
    etag: `"${text.length}"`,
    chunks: [Buffer.from(text.slice(0, half)), Buffer.from(text.slice(half))],
    text: () => text,
  };
}

/** The `iss` a verifier reads from the card itself. */
function issOf(jws: string): string {
  const payload = inflateRawSync(Buffer.from(jws.split('.')[1] ?? '', 'base64url'));
  return (JSON.parse(payload.toString('utf8')) as { iss: string }).iss;
}

describe('the issuer keys over HTTP', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it.each(['127.0.0.1', 'localhost'])(
    'serves, for a loopback issuer on %s, the key that verifies a card at its iss + /.well-known/jwks.json',
    async (host) => {
      const port = await freePort();
      const issuer = `http://${host}:${port}/issuer`;
      servers.push(
        await startIssuerHttp({
          records: {
            issuerKeysDocument: async () => documentOf(jwksOf([key], { [key.kid]: 1 })),
            revocationListDocument: async (kid) => {
              if (kid !== key.kid) throw notFound('no issuer key has this kid');
              const list = createRevocationList(kid, [{ rid: REVOKED_RID }]);
              return { ...documentOf(list), kid, ctr: list.ctr, list: () => list };
            },
          },
          issuer,
          port,
          logger: createLogger({ service: 'issuer-http-test', sink: new MemoryLogSink() }),
        }),
      );
      const valid = card(issuer, 'Xq3pV7kzA1c');
      const revoked = card(issuer, REVOKED_RID);
      // What a verifier does with nothing but the card: fetch the keys from its iss.
      const iss = issOf(valid);
      expect(iss).toBe(issuer);
      const jwksResponse = await fetch(`${iss}/.well-known/jwks.json`);
      expect(jwksResponse.status).toBe(200);
      const jwks: unknown = await jwksResponse.json();
      const crl: unknown = await (await fetch(`${iss}/.well-known/crl/${key.kid}.json`)).json();
      const verifier = createOfflineVerifier({
        issuers: [{ iss, jwks, revocations: { [key.kid]: crl } }],
      });
      expect(verifier.verify(valid).status).toBe('valid');
      expect(verifier.verify(revoked).status).toBe('revoked');
      // Nothing is served outside the issuer's path.
      expect((await fetch(`http://${host}:${port}/.well-known/jwks.json`)).status).toBe(404);
      expect((await fetch(`${iss}/.well-known/crl/${'A'.repeat(43)}.json`)).status).toBe(404);
    },
  );
});

describe('the issuer documents over HTTP, revalidated', () => {
  it('answer with a strong ETag, and 304 without a body to an If-None-Match naming it', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}/issuer`;
    const jwks = documentOf(jwksOf([key], { [key.kid]: 1 }));
    const server = await startIssuerHttp({
      records: {
        issuerKeysDocument: async () => jwks,
        revocationListDocument: async () => {
          throw notFound('no issuer key has this kid');
        },
      },
      issuer,
      port,
      logger: createLogger({ service: 'issuer-http-test', sink: new MemoryLogSink() }),
    });
    try {
      const url = `${issuer}/.well-known/jwks.json`;
      const fresh = await fetch(url);
      expect([fresh.status, fresh.headers.get('etag'), await fresh.text()]).toEqual([
        200,
        jwks.etag,
        jwks.text(),
      ]);
      for (const held of [jwks.etag, `W/${jwks.etag}`, `"other", ${jwks.etag}`, '*']) {
        const revalidated = await fetch(url, { headers: { 'if-none-match': held } });
        expect([revalidated.status, await revalidated.text()]).toEqual([304, '']);
        expect(revalidated.headers.get('etag')).toBe(jwks.etag);
      }
      const stale = await fetch(url, { headers: { 'if-none-match': '"older"' } });
      expect([stale.status, await stale.text()]).toEqual([200, jwks.text()]);
    } finally {
      await server.close();
    }
  });
});
