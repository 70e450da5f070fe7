import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import { MemoryLogSink } from '@vaxguard/logging';
import {
  buildGoTool,
  eventually,
  startKafka,
  startPostgres,
  testClient,
  type GoTool,
  type KafkaFixture,
  type PostgresFixture,
} from '@vaxguard/testing';
import {
  generateSignerKey,
  leafHash,
  openCheckpoint,
  parseEntryBundle,
  parseVerifierKey,
  type Checkpoint,
} from '@vaxguard/tlog';
import { createAuditApp, type AuditApp } from './app';
import { readConfig } from './config';

const LOG_NAME = 'audit.tiles-test.vaxguard';

/**
 * The audit service in-process (real PostgreSQL and Kafka, no witnesses) serving its log
 * as c2sp.org/tlog-tiles over HTTP, filled through Kafka with 700 events: two full tiles
 * and a partial one at level 0. Go's golang.org/x/mod/sumdb/tlog client
 * (tools/tlog-interop tiles) reads it over HTTP and verifies inclusion and consistency.
 */
describe('the audit log served as tiles (real PostgreSQL, Kafka, Go sumdb/tlog client)', () => {
  const signer = generateSignerKey(LOG_NAME);
  const service = testClient('svc-audit');
  const stateDir = mkdtempSync(join(tmpdir(), 'vaxguard-audit-tiles-'));
  let postgres: PostgresFixture;
  let kafka: KafkaFixture;
  let audit: AuditApp;
  let producer: Producer;
  let goTool: GoTool;
  let auditDb: pg.Pool;
  let base: string;
  /** The signed checkpoint at 300 entries, fetched over HTTP before the log grew. */
  let earlier: string;

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers });

  /** Events of distinct staff members, so no anomaly rule fires. */
  async function produce(count: number): Promise<void> {
    const events = Array.from({ length: count }, (_, i) =>
      buildEvent(EVENTS.accessGranted, {
        actor: {
          kind: ActorKind.ACTOR_KIND_STAFF,
          principalId: `stf_${randomUUID().slice(0, 8)}`,
          clientId: 'audit-console',
        },
        subject: {
          kind: SubjectKind.SUBJECT_KIND_BENEFICIARY,
          ref: `bnf_${randomBytes(13).toString('hex')}`,
        },
        payload: {
          method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
          basis: 'CONSENT',
          grantId: `grant-${i}`,
        },
        occurredAt: new Date(),
      }),
    );
    await producer.send({
      topic: EVENTS.accessGranted.topic,
      messages: events.map((event) => ({ key: event.key, value: encodeEnvelope(event.envelope) })),
    });
  }

  /** The served checkpoint, once it is of `size` entries. */
  async function checkpointOf(size: number): Promise<{ note: string; checkpoint: Checkpoint }> {
    return eventually(
      async () => {
        const note = await (await get('/checkpoint')).text();
        const { checkpoint } = openCheckpoint(
          note,
          [parseVerifierKey(signer.verifierKey)],
          LOG_NAME,
        );
        if (checkpoint.size !== size) throw new Error(`checkpoint of ${checkpoint.size}`);
        return { note, checkpoint };
      },
      { timeoutMs: 60_000 },
    );
  }

  beforeAll(async () => {
    goTool = buildGoTool('tools/tlog-interop');
    postgres = await startPostgres();
    kafka = await startKafka();
    const databaseUrl = await postgres.createDatabase();
    auditDb = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const config = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: testClient('audit-console').credential,
      OTP_GRPC_ADDRESS: '127.0.0.1:1',
      IDENTITY_GRPC_ADDRESS: '127.0.0.1:1',
      SERVICE_CLIENT_ID: service.clientId,
      SERVICE_CLIENT_SECRET: service.secret,
      AUDIT_LOG_SIGNER_KEY: signer.signerKey,
      AUDIT_CHECKPOINT_EVERY_ENTRIES: '300',
      AUDIT_CHECKPOINT_INTERVAL: '300ms',
      AUDIT_STATE_DIR: stateDir,
      AUDIT_WITNESSES: 'none',
      AUDIT_TILES_HTTP_PORT: '0',
    });
    audit = await createAuditApp(config, { logSink: new MemoryLogSink() });
    await audit.runtime.start();
    base = `http://127.0.0.1:${audit.tilesHttpPort}`;
    producer = new Kafka({
      clientId: 'audit-tiles-test',
      brokers: kafka.brokers as string[],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    await produce(300);
    earlier = (await checkpointOf(300)).note;
    await produce(400);
    await checkpointOf(700);
  }, 240_000);

  afterAll(async () => {
    await producer?.disconnect();
    await audit?.runtime.stop();
    await auditDb?.end();
    await kafka?.stop();
    await postgres?.stop();
    await goTool?.[Symbol.asyncDispose]();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("is read by Go's sumdb/tlog client: inclusion of entries in every tile, consistency with an earlier checkpoint", async () => {
    const indexes = [0, 1, 255, 256, 299, 300, 511, 512, 699];
    const result = await goTool.run(
      ['tiles'],
      JSON.stringify({
        baseUrl: base,
        verifierKey: signer.verifierKey,
        indexes,
        oldCheckpoint: earlier,
      }),
    );
    expect(result.ok, result.stderr).toBe(true);
    const summary = JSON.parse(result.stdout) as {
      size: number;
      included: number[];
      consistentFrom: number;
      fetched: string[];
    };
    expect(summary).toMatchObject({ size: 700, included: indexes, consistentFrom: 300 });
    // Two full tiles and the partial one at level 0, the partial one at level 1, and
    // the entry bundles, full and partial, at the paths tlog-tiles names.
    expect(summary.fetched).toEqual(
      expect.arrayContaining([
        'tile/0/000',
        'tile/0/001',
        'tile/0/002.p/188',
        'tile/1/000.p/2',
        'tile/entries/000',
        'tile/entries/002.p/188',
      ]),
    );
  });

  it('fails for a checkpoint under another key, and for a tile changed in the database', async () => {
    const otherKey = await goTool.run(
      ['tiles'],
      JSON.stringify({
        baseUrl: base,
        verifierKey: generateSignerKey(LOG_NAME).verifierKey,
        indexes: [0],
      }),
    );
    expect(otherKey.ok).toBe(false);
    expect(otherKey.stderr).toContain('note.Open');

    // One hash of a full tile changed behind the log's back: the tile no longer hashes
    // to what the level above (and through it the signed root) says.
    const flip = `UPDATE audit_log_tiles
                     SET hashes = set_byte(hashes, 32 * 44, get_byte(hashes, 32 * 44) # 1)
                   WHERE level = 0 AND tile_index = 1`;
    await auditDb.query(flip);
    try {
      const tampered = await goTool.run(
        ['tiles'],
        JSON.stringify({ baseUrl: base, verifierKey: signer.verifierKey, indexes: [300] }),
      );
      expect(tampered.ok).toBe(false);
      expect(tampered.stderr).toMatch(/inconsistent|CheckRecord|ProveRecord/);
    } finally {
      await auditDb.query(flip);
    }
  });

  it('serves the checkpoint as text, briefly cached', async () => {
    const response = await get('/checkpoint');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=2');
    expect(await response.text()).toMatch(new RegExp(`^${LOG_NAME.replace(/\./g, '\\.')}\n700\n`));
  });

  it('serves full tiles for good, partial ones briefly, and any width up to what the tree holds', async () => {
    const full = await get('/tile/0/001');
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('application/octet-stream');
    expect(full.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const fullBytes = Buffer.from(await full.arrayBuffer());
    expect(fullBytes.length).toBe(256 * 32);

    const partial = await get('/tile/0/002.p/188');
    expect(partial.status).toBe(200);
    expect(partial.headers.get('cache-control')).toBe('public, max-age=60');
    expect(Buffer.from(await partial.arrayBuffer()).length).toBe(188 * 32);
    // The partial tile of an earlier tree is the first hashes of a full one.
    const older = Buffer.from(await (await get('/tile/0/001.p/44')).arrayBuffer());
    expect(older.equals(fullBytes.subarray(0, 44 * 32))).toBe(true);
  });

  it('serves entry bundles whose entries hash to the level-0 tile, gzipped on request', async () => {
    const tile = Buffer.from(await (await get('/tile/0/000')).arrayBuffer());
    const plain = await get('/tile/entries/000');
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const entries = parseEntryBundle(new Uint8Array(await plain.arrayBuffer()));
    expect(entries).toHaveLength(256);
    entries.forEach((entry, i) => {
      expect(Buffer.from(leafHash(entry)).equals(tile.subarray(32 * i, 32 * (i + 1)))).toBe(true);
    });
    // fetch decodes gzip itself; node:http's raw answer shows the encoding.
    const raw = await rawGet('/tile/entries/002.p/188', { 'accept-encoding': 'gzip' });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(parseEntryBundle(gunzipSync(raw.body))).toHaveLength(188);
  });

  it.each([
    ['/tile/0/003', 404],
    ['/tile/0/002', 404],
    ['/tile/0/002.p/189', 404],
    ['/tile/1/000', 404],
    ['/tile/2/000.p/1', 404],
    ['/tile/entries/003.p/1', 404],
    ['/tile/0/x009/x007/x199/x254/x740/991', 404],
    ['/tile/0/2', 400],
    ['/tile/0/002.p/0', 400],
    ['/tile/0/002.p/256', 400],
    ['/tile/00/000', 400],
    ['/tile/64/000', 400],
    ['/tile/0/x000/002', 400],
    ['/tile/0/../../checkpoint', 400],
    ['/tile/0/%2e%2e/000', 400],
    ['/tile/8/0/000', 400],
    [`/tile/0/${'x001/'.repeat(40)}000`, 400],
    ['/tiles/0/000', 404],
    ['/', 404],
  ])('answers %s with %i, never cached', async (path, status) => {
    const response = await rawGet(path);
    expect(response.status).toBe(status);
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers GET and HEAD only', async () => {
    const response = await fetch(`${base}/tile/0/000`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/tile/0/000`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(256 * 32));
  });

  /** A GET through node:http, the path sent as written (fetch would normalise dot segments). */
  async function rawGet(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(base);
      const req = httpRequest({ hostname, port, path, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }
});
