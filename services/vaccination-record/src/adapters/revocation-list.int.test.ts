import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '@vaxguard/db';
import { createOfflineVerifier, parseRevocationList } from '@vaxguard/health-cards';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { Sealer } from '@vaxguard/sealing';
import { freePort, startPostgres, type PostgresFixture } from '@vaxguard/testing';
import { CertificateService } from '../domain/certificate-service';
import type { KeyPublication } from '../domain/model';
import { vaccinationRecordMigrations } from '../migrations';
import { startIssuerHttp } from './issuer-http';
import { ISSUER_KEY_CONTEXT, PgIssuerKeyring } from './pg-issuer-keyring';
import { PgRecordStore } from './pg-record-store';

const logger = createLogger({ service: 'revocation-list-test', sink: new MemoryLogSink() });
const KEK = randomBytes(32);

let postgres: PostgresFixture;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

/**
 * One vaccination-record instance's revocation list: its pool, its keyring (store reads
 * counted, and held while `reads.hold` is set), its certificate service (the documents
 * asked of it counted) and the issuer's HTTP endpoints.
 */
async function instance(url: string, name: string) {
  const pool = createPool({ connectionString: url, applicationName: name, logger });
  const keyring = new PgIssuerKeyring(pool, new Sealer(KEK, ISSUER_KEY_CONTEXT), () => new Date());
  const reads: { count: number; hold?: Promise<void> } = { count: 0 };
  const counted = Object.assign(Object.create(keyring) as PgIssuerKeyring, {
    publishedSince: async (
      known: ReadonlyMap<string, number>,
    ): Promise<readonly KeyPublication[]> => {
      reads.count += 1;
      await reads.hold;
      return keyring.publishedSince(known);
    },
  });
  const unused = {} as never;
  const certificates = new CertificateService({
    store: unused,
    access: unused,
    centres: unused,
    keys: counted,
    clock: () => new Date(),
    issuer: 'http://127.0.0.1/issuer',
    ridSecret: Buffer.alloc(32, 1),
  });
  const documents = { asked: 0, onAsked: (): void => undefined };
  const records = {
    issuerKeysDocument: () => certificates.issuerKeysDocument(),
    revocationListDocument: (kid: string) => {
      documents.asked += 1;
      documents.onAsked();
      return certificates.revocationListDocument(kid);
    },
  };
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/issuer`;
  const http = await startIssuerHttp({ records, issuer, port, logger });
  return {
    pool,
    keyring,
    certificates,
    reads,
    documents,
    crlUrl: (kid: string) => `${issuer}/.well-known/crl/${kid}.json`,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    async [Symbol.asyncDispose]() {
      await http.close();
      await pool.end();
    },
  };
}

/** A database of the test's own, migrated, with the issuer's first key. */
async function database(): Promise<{ url: string; kid: string }> {
  const url = await postgres.createDatabase();
  const pool = createPool({ connectionString: url, applicationName: 'setup', logger });
  try {
    await migrate(pool, vaccinationRecordMigrations, logger);
    const keyring = new PgIssuerKeyring(
      pool,
      new Sealer(KEK, ISSUER_KEY_CONTEXT),
      () => new Date(),
    );
    await keyring.ensureKey();
    return { url, kid: (await keyring.current()).kid };
  } finally {
    await pool.end();
  }
}

let certificates = 0;
/** Revokes a certificate of the key as RevokeCertificate does; returns its rid. */
async function revoke(pool: Pool, kid: string): Promise<string> {
  certificates += 1;
  const rid = randomBytes(8).toString('base64url');
  await new PgRecordStore(pool).transaction((uow) =>
    uow.revokeCertificate(
      {
        certificateId: `cert-${certificates}`,
        beneficiaryRef: 'bnf_00000000000000000000000000',
        kid,
        rid,
        issuedAt: new Date(),
        revokedAt: undefined,
      },
      new Date(),
      'test',
    ),
  );
  return rid;
}

describe('the revocation list over HTTP', () => {
  it('carries a strong ETag, answers 304 while it holds, and a revocation changes it and appears at once', async () => {
    const { url, kid } = await database();
    await using a = await instance(url, 'record-a');
    const first = await fetch(a.crlUrl(kid));
    const etag = first.headers.get('etag') ?? '';
    expect(first.status).toBe(200);
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(parseRevocationList(await first.text())).toMatchObject({ ctr: 1, rids: [] });
    const held = await fetch(a.crlUrl(kid), { headers: { 'if-none-match': etag } });
    expect([held.status, await held.text()]).toEqual([304, '']);

    const rid = await revoke(a.pool, kid);
    const stale = await fetch(a.crlUrl(kid), { headers: { 'if-none-match': etag } });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('etag')).not.toBe(etag);
    expect(parseRevocationList(await stale.text())).toMatchObject({ ctr: 2, rids: [rid] });
    // The JWKS announces the new version, and the two verify together.
    const jwks: unknown = await (await fetch(a.jwksUrl)).json();
    const crl: unknown = await (await fetch(a.crlUrl(kid))).json();
    expect(() =>
      createOfflineVerifier({ issuers: [{ iss: 'x', jwks, revocations: { [kid]: crl } }] }),
    ).not.toThrow();
  });

  it('is rebuilt once for N concurrent GETs made during a revocation, each of them seeing it', async () => {
    const { url, kid } = await database();
    await using a = await instance(url, 'record-a');
    await revoke(a.pool, kid);
    await fetch(a.crlUrl(kid));
    const rebuiltBefore = a.certificates.publication.stats.listsRebuilt;
    const readsBefore = a.reads.count;
    const rid = await revoke(a.pool, kid);
    // The store's reads wait until all 40 GETs have reached the server, so that they are
    // concurrent however slowly a loaded machine opens their connections.
    const askedBefore = a.documents.asked;
    a.reads.hold = new Promise((release) => {
      a.documents.onAsked = () => {
        if (a.documents.asked - askedBefore >= 40) release();
      };
    });
    const answers = await Promise.all(
      Array.from({ length: 40 }, async () => (await fetch(a.crlUrl(kid))).text()),
    );
    for (const answer of answers) expect(parseRevocationList(answer).rids).toContain(rid);
    expect(new Set(answers).size).toBe(1);
    expect(a.certificates.publication.stats.listsRebuilt - rebuiltBefore).toBe(1);
    // 40 GETs, two store reads: the one the first GET started, and one after it for every
    // GET that came while it ran (it may have begun before their revocation was visible).
    expect(a.reads.count - readsBefore).toBeLessThanOrEqual(2);
  });

  it('converges on two instances: the same bytes and ETag, whichever revoked', async () => {
    const { url, kid } = await database();
    await using a = await instance(url, 'record-a');
    await using b = await instance(url, 'record-b');
    const ridA = await revoke(a.pool, kid);
    await fetch(b.crlUrl(kid));
    const ridB = await revoke(b.pool, kid);
    const [fromA, fromB] = await Promise.all([fetch(a.crlUrl(kid)), fetch(b.crlUrl(kid))]);
    expect(fromA.headers.get('etag')).toBe(fromB.headers.get('etag'));
    const [textA, textB] = await Promise.all([fromA.text(), fromB.text()]);
    expect(textA).toBe(textB);
    expect(parseRevocationList(textA)).toMatchObject({ ctr: 3, rids: [ridA, ridB] });
    // And an instance started later reads the same list from scratch.
    await using c = await instance(url, 'record-c');
    const fromC = await fetch(c.crlUrl(kid));
    expect(fromC.headers.get('etag')).toBe(fromA.headers.get('etag'));
  });

  it('keeps a list revoked before the upgrade, in its order, and appends after it', async () => {
    const url = await postgres.createDatabase();
    const pool = createPool({ connectionString: url, applicationName: 'upgrade', logger });
    try {
      const upgrade = vaccinationRecordMigrations.findIndex(
        (migration) => migration.id === 'vaccination-record/0005_revocation_positions',
      );
      await migrate(pool, vaccinationRecordMigrations.slice(0, upgrade), logger);
      const keyring = new PgIssuerKeyring(
        pool,
        new Sealer(KEK, ISSUER_KEY_CONTEXT),
        () => new Date(),
      );
      await keyring.ensureKey();
      const { kid } = await keyring.current();
      // As the service revoked before: the rid, then the counter.
      for (const [rid, at] of [
        ['ridB', '2024-01-02T00:00:00Z'],
        ['ridA', '2024-01-03T00:00:00Z'],
        ['ridC', '2024-01-01T00:00:00Z'],
      ]) {
        await pool.query('INSERT INTO revoked_rids (kid, rid, revoked_at) VALUES ($1, $2, $3)', [
          kid,
          rid,
          at,
        ]);
        await pool.query('UPDATE issuer_keys SET crl_version = crl_version + 1 WHERE kid = $1', [
          kid,
        ]);
      }
      await migrate(pool, vaccinationRecordMigrations, logger);
      await using a = await instance(url, 'record-a');
      expect(await a.certificates.revocationList(kid)).toMatchObject({
        ctr: 4,
        rids: ['ridC', 'ridB', 'ridA'],
      });
      const rid = await revoke(pool, kid);
      expect(await a.certificates.revocationList(kid)).toMatchObject({
        ctr: 5,
        rids: ['ridC', 'ridB', 'ridA', rid],
      });
    } finally {
      await pool.end();
    }
  });
});
