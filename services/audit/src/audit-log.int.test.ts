import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  type OutgoingEvent,
} from '@vaxguard/event-catalogue';
import { verifyLogPages, VerifyLogPagingError } from '@vaxguard/dev-operator';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { MemoryLogSink } from '@vaxguard/logging';
import { auditV1, identityStaffV1 } from '@vaxguard/proto';
import {
  callAs,
  eventually,
  leaks,
  refusalOf,
  startPlatform,
  testClient,
  type Platform,
} from '@vaxguard/testing';
import { auditCheckpoint, generateSignerKey, leafHash, parseCheckpoint } from '@vaxguard/tlog';
import { startWitness, witnessBinDir, type RunningWitness } from '@vaxguard/witness';
import { createAuditApp, type AuditApp } from './app';
import { readConfig } from './config';
import { decodeEntry } from './domain/entry-encoding';

const LOG_NAME = 'audit.int-test.vaxguard';

/**
 * The audit service in-process against real PostgreSQL and Kafka, with the built OTP
 * and identity services as their own processes issuing real staff sessions, and a real
 * witness (litewitness) cosigning its checkpoints. Events are
 * built with the catalogue and produced straight to Kafka, some of them twice. Tests
 * that tamper with the log's tables put back what they changed before they end.
 */
describe('audit log (real PostgreSQL, Kafka, OTP and identity)', () => {
  const logs = new MemoryLogSink();
  const console_ = testClient('audit-console');
  const svcAudit = testClient('svc-audit');
  const signer = generateSignerKey(LOG_NAME);
  const ADMIN_MOBILE = '9720000001';
  let platform: Platform;
  let witness: RunningWitness;
  let audit: AuditApp;
  let auditConfig: ReturnType<typeof readConfig>;
  let auditDb: pg.Pool;
  let producer: Producer;
  let clients: ReturnType<typeof connect>;
  const sessions = { auditor: '', vaccinator: '' };

  const auditClient = () =>
    createServiceClient(auditV1.AuditServiceService, {
      clientId: console_.clientId,
      secret: console_.secret,
      deadlineMs: 15_000,
      address: `127.0.0.1:${audit.runtime.port}`,
    });
  function connect() {
    return { ...platform.connect(console_, { deadlineMs: 15_000 }), audit: auditClient() };
  }

  const as = callAs;
  const staffSession = (username: string, password: string): Promise<string> =>
    platform.staffSession(clients, username, password);

  async function createStaff(
    admin: string,
    role: identityStaffV1.StaffRole,
    username: string,
    mobile: string,
    centreId = '',
  ): Promise<string> {
    const password = `a long passphrase number ${mobile}`;
    await clients.identity.call(
      'createStaff',
      { username, displayName: username, role, centreId, mobile, password },
      as(admin),
    );
    return staffSession(username, password);
  }

  /** Events of this test's own: a vaccinator's reads of beneficiaries of its own. */
  function readEvents(count: number, actor = `stf_${randomUUID().slice(0, 8)}`): OutgoingEvent[] {
    return Array.from({ length: count }, (_, i) =>
      buildEvent(EVENTS.accessGranted, {
        actor: {
          kind: ActorKind.ACTOR_KIND_STAFF,
          principalId: actor,
          clientId: console_.clientId,
        },
        subject: {
          kind: SubjectKind.SUBJECT_KIND_BENEFICIARY,
          ref: `bnf_${randomBytes(13).toString('hex').slice(0, 26)}`,
        },
        payload: {
          method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
          basis: 'CONSENT',
          grantId: `grant-${i}`,
        },
        occurredAt: new Date(),
      }),
    );
  }

  async function produce(events: readonly OutgoingEvent[]): Promise<void> {
    await producer.send({
      topic: EVENTS.accessGranted.topic,
      messages: events.map((event) => ({ key: event.key, value: encodeEnvelope(event.envelope) })),
    });
  }

  const idsOf = (events: readonly OutgoingEvent[]) => events.map((e) => e.envelope.eventId);

  /** The log indexes of the events, once every one of them is in the log. */
  async function indexesOf(events: readonly OutgoingEvent[]): Promise<number[]> {
    return eventually(
      async () => {
        const { rows } = await auditDb.query<{ entry_index: string }>(
          `SELECT entry_index FROM audit_log_entries WHERE event_id = ANY($1::uuid[])
            ORDER BY entry_index`,
          [idsOf(events)],
        );
        if (rows.length < events.length)
          throw new Error(`${rows.length} of ${events.length} in the log`);
        return rows.map((row) => Number(row.entry_index));
      },
      { timeoutMs: 30_000 },
    );
  }

  /** The latest checkpoint, once it covers the entry at `index`. */
  async function checkpointCovering(index: number): Promise<auditV1.GetCheckpointResponse> {
    return eventually(async () => {
      const checkpoint = await clients.audit.call('getCheckpoint', {}, as());
      if (Number(checkpoint.treeSize) <= index) throw new Error('not signed yet');
      return checkpoint;
    });
  }

  /** Rewrites an entry's bytes in PostgreSQL (`from` replaced by `to`); its bytes before. */
  async function rewriteEntry(index: number, from: string, to: string): Promise<Buffer> {
    const { rows } = await auditDb.query<{ entry: Buffer }>(
      'SELECT entry FROM audit_log_entries WHERE entry_index = $1',
      [index],
    );
    await auditDb.query(
      `UPDATE audit_log_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), $2, $3), 'UTF8')
        WHERE entry_index = $1`,
      [index, from, to],
    );
    return rows[0]?.entry ?? Buffer.alloc(0);
  }

  // The whole log, a page at a time (VerifyLog answers at most 10^4 entries per call).
  const verifyLog = () =>
    verifyLogPages((request) => clients.audit.call('verifyLog', request, as(sessions.auditor)));

  const exportRequest = (
    filter: Partial<auditV1.ExportEntriesRequest>,
  ): auditV1.ExportEntriesRequest => ({
    actorId: '',
    subjectRef: '',
    eventType: '',
    from: undefined,
    to: undefined,
    chunkSize: 0,
    ...filter,
  });
  const exportEntries = (filter: Partial<auditV1.ExportEntriesRequest>, token?: string) =>
    clients.audit.stream('exportEntries', exportRequest(filter), {
      ...as(token),
      deadlineMs: 60_000,
    });

  /** Every chunk of an export, as the auditor received them. */
  async function exported(filter: Partial<auditV1.ExportEntriesRequest>, token?: string) {
    const chunks: auditV1.LogEntry[][] = [];
    for await (const { entries } of exportEntries(filter, token)) chunks.push(entries);
    return chunks;
  }

  /** The keyset reads of the log the audit service makes for one actor's entries. */
  function countReadsOf(actor: string) {
    const spy = vi.spyOn(audit.runtime.pool, 'query');
    return {
      count: () =>
        (spy.mock.calls as unknown[][]).filter(
          ([sql, params]) =>
            typeof sql === 'string' &&
            sql.includes('FROM audit_log_entries') &&
            Array.isArray(params) &&
            params[1] === actor,
        ).length,
      [Symbol.dispose]: () => spy.mockRestore(),
    };
  }

  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    platform = await startPlatform({
      services: ['otp', 'identity'],
      otpClients: [console_.credential, svcAudit.credential],
      identityClients: [console_.credential],
      adminMobile: ADMIN_MOBILE,
    });
    const { kafka, postgres } = platform;
    const brokers = kafka.brokers.join(',');
    const auditUrl = await postgres.createDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'vaxguard-audit-log-'));
    witness = await startWitness({
      dir: join(dir, 'witness'),
      logs: [{ origin: LOG_NAME, verifierKey: signer.verifierKey }],
      binDir: witnessBinDir(process.env['VAXGUARD_CACHE_DIR']),
    });
    auditConfig = readConfig({
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: auditUrl,
      KAFKA_BROKERS: brokers,
      CLIENT_CREDENTIALS: console_.credential,
      LOG_LEVEL: 'info',
      OTP_GRPC_ADDRESS: platform.address('otp'),
      SERVICE_CLIENT_ID: svcAudit.clientId,
      SERVICE_CLIENT_SECRET: svcAudit.secret,
      AUDIT_LOG_SIGNER_KEY: signer.signerKey,
      AUDIT_CHECKPOINT_EVERY_ENTRIES: '25',
      AUDIT_CHECKPOINT_INTERVAL: '200ms',
      AUDIT_STATE_DIR: join(dir, 'audit-state'),
      AUDIT_WITNESSES: `${witness.name}|${witness.url}|${witness.verifierKey}`,
    });
    audit = await createAuditApp(auditConfig, { logSink: logs });
    await audit.runtime.start();
    auditDb = new pg.Pool({ connectionString: auditUrl, max: 2 });
    producer = new Kafka({
      clientId: 'audit-int-test',
      brokers: kafka.brokers as string[],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    clients = connect();

    const admin = await staffSession(platform.admin.username, platform.admin.password);
    const { centre } = await clients.identity.call(
      'createCentre',
      { name: 'PHC Audit', district: 'Pune', state: 'Maharashtra' },
      as(admin),
    );
    sessions.auditor = await createStaff(
      admin,
      identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR,
      'auditor.one',
      '9720000002',
    );
    sessions.vaccinator = await createStaff(
      admin,
      identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
      'vaccinator.one',
      '9720000003',
      centre?.centreId ?? '',
    );
  }, 240_000);

  afterAll(async () => {
    for (const client of Object.values(clients ?? {})) client.close();
    await producer?.disconnect().catch(() => undefined);
    await auditDb?.end().catch(() => undefined);
    await audit?.runtime.stop().catch(() => undefined);
    await witness?.stop();
    await platform?.stop();
  });

  it('appends each event once, however often it is delivered, and skips what it cannot decode', async () => {
    const events = readEvents(30);
    const before = audit.ingestion.stats;
    // Delivered twice in one batch, then again after the first copies were applied,
    // with an undecodable message among them that must not hold the partition up.
    await produce([...events, ...events.slice(0, 10)]);
    // Behind the garbage on its partition (same key): it must still arrive.
    const behind = readEvents(1);
    await producer.send({
      topic: EVENTS.accessGranted.topic,
      messages: [
        { key: 'garbage', value: Buffer.from('not an envelope') },
        { key: 'garbage', value: encodeEnvelope((behind[0] as OutgoingEvent).envelope) },
      ],
    });
    await indexesOf([...events, ...behind]);
    await produce(events.slice(10));
    // Every redelivery is recognised (they spread over partitions, so wait for all).
    const after = await eventually(async () => {
      const stats = audit.ingestion.stats;
      if (stats.duplicates - before.duplicates < 30) throw new Error('redeliveries still coming');
      if (stats.undecodable.NOT_AN_ENVELOPE === before.undecodable.NOT_AN_ENVELOPE) {
        throw new Error('garbage not read yet');
      }
      return stats;
    });
    expect(after.duplicates - before.duplicates).toBe(30);
    const { rows } = await auditDb.query<{ n: string; distinct_indexes: string }>(
      `SELECT count(*) AS n, count(DISTINCT entry_index) AS distinct_indexes
         FROM audit_log_entries WHERE event_id = ANY($1::uuid[])`,
      [idsOf(events)],
    );
    expect(rows[0]).toEqual({ n: '30', distinct_indexes: '30' });
    expect(after.undecodable.NOT_AN_ENVELOPE - before.undecodable.NOT_AN_ENVELOPE).toBe(1);
  });

  it('serves a signed checkpoint, inclusion and consistency proofs that verify with the verifier key alone', async () => {
    const first = readEvents(5);
    await produce(first);
    const [firstIndex = 0] = await indexesOf(first);
    const old = await checkpointCovering(firstIndex);
    // The published key is the configured one's public half, and nothing else is needed.
    expect(old.verifierKey).toBe(signer.verifierKey);
    const oldCheckpoint = auditCheckpoint({
      verifierKey: old.verifierKey,
      signedCheckpoint: old.signedCheckpoint,
    });
    expect(oldCheckpoint.origin).toBe(LOG_NAME);

    const second = readEvents(40);
    await produce(second);
    const indexes = await indexesOf(second);
    const last = indexes.at(-1) ?? 0;
    await checkpointCovering(last);

    // The entry's bytes come from an auditor; the proofs from any client, no session.
    const { entries } = await clients.audit.call(
      'getEntries',
      { start: String(last), end: String(last + 1), pageSize: 0, pageToken: '' },
      as(sessions.auditor),
    );
    const entry = entries[0];
    expect(idsOf(second)).toContain(entry?.eventId);
    const inclusion = await clients.audit.call(
      'getInclusionProof',
      { index: String(last), treeSize: '0' },
      as(),
    );
    const newSize = Number(inclusion.treeSize);
    const consistency = await clients.audit.call(
      'getConsistencyProof',
      { oldSize: String(oldCheckpoint.size), newSize: String(newSize) },
      as(),
    );
    const audited = auditCheckpoint({
      verifierKey: old.verifierKey,
      signedCheckpoint: inclusion.signedCheckpoint,
      inclusion: {
        leafHash: leafHash(entry?.entry ?? new Uint8Array()),
        index: last,
        proof: inclusion.hashes,
      },
      consistency: { previous: oldCheckpoint, proof: consistency.hashes },
    });
    expect(audited.size).toBe(newSize);
    // A forged entry, or a proof against another key, does not pass.
    expect(() =>
      auditCheckpoint({
        verifierKey: old.verifierKey,
        signedCheckpoint: inclusion.signedCheckpoint,
        inclusion: {
          leafHash: leafHash(Buffer.from('forged')),
          index: last,
          proof: inclusion.hashes,
        },
      }),
    ).toThrow();
    expect(() =>
      auditCheckpoint({
        verifierKey: generateSignerKey(LOG_NAME).verifierKey,
        signedCheckpoint: inclusion.signedCheckpoint,
      }),
    ).toThrow();
    expect(parseCheckpoint(consistency.signedCheckpoint.split('\n\n')[0] + '\n').size).toBe(
      newSize,
    );
  });

  it('names an entry changed with a plain SQL UPDATE, of its bytes or of its query columns', async () => {
    const actor = `stf_${randomUUID().slice(0, 8)}`;
    const events = readEvents(3, actor);
    await produce(events);
    const [, target = 0] = await indexesOf(events);
    await checkpointCovering(target);
    expect((await verifyLog()).ok).toBe(true);
    const original = await rewriteEntry(target, actor, 'stf_innocent');
    try {
      const report = await verifyLog();
      expect(report.ok).toBe(false);
      expect(report.firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
        index: String(target),
      });
      await auditDb.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [
        target,
        original,
      ]);
      await auditDb.query(
        "UPDATE audit_log_entries SET actor_id = 'stf_innocent' WHERE entry_index = $1",
        [target],
      );
      expect((await verifyLog()).firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_COLUMNS,
        index: String(target),
      });
    } finally {
      await auditDb.query(
        'UPDATE audit_log_entries SET entry = $2, actor_id = $3 WHERE entry_index = $1',
        [target, original, actor],
      );
    }
    expect((await verifyLog()).ok).toBe(true);
  });

  it('names an entry removed with a plain SQL DELETE', async () => {
    const events = readEvents(3);
    await produce(events);
    const [, target = 0] = await indexesOf(events);
    await checkpointCovering(target);
    const { rows } = await auditDb.query('SELECT * FROM audit_log_entries WHERE entry_index = $1', [
      target,
    ]);
    try {
      await auditDb.query('DELETE FROM audit_log_entries WHERE entry_index = $1', [target]);
      const report = await verifyLog();
      expect(report.ok).toBe(false);
      expect(report.firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_MISSING,
        index: String(target),
      });
    } finally {
      await restore(rows);
    }
    expect((await verifyLog()).ok).toBe(true);
  });

  it('verifies a range a page at a time; names an entry changed in the third page, the mark before it; takes a forged token for a position only', async () => {
    const events = readEvents(30);
    await produce(events);
    const indexes = await indexesOf(events);
    const from = indexes[0] ?? 0;
    const to = (indexes.at(-1) ?? 0) + 1;
    await checkpointCovering(to - 1);
    const ask = (request: auditV1.VerifyLogRequest) =>
      clients.audit.call('verifyLog', request, as(sessions.auditor));
    const pages: auditV1.VerifyLogResponse[] = [];
    const whole = await verifyLogPages(ask, {
      from,
      to,
      pageSize: 8,
      onPage: (page) => pages.push(page),
    });
    expect(whole).toMatchObject({ ok: true, from: String(from), to: String(to) });
    expect(pages.length).toBeGreaterThanOrEqual(4);
    expect(pages.at(-1)?.checkedTo).toBe(String(to));
    expect(pages.slice(0, -1).every((page) => !page.ok && !page.firstMismatch)).toBe(true);

    const third = pages[2] as auditV1.VerifyLogResponse;
    const target = Number(third.checkedTo) - 1;
    const original = await rewriteEntry(target, 'stf_', 'stx_');
    try {
      const tampered = await verifyLogPages(ask, { from, to, pageSize: 8 });
      expect(tampered).toMatchObject({
        ok: false,
        pages: 3,
        firstMismatch: {
          kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
          index: String(target),
        },
      });
      expect(Number(tampered.verifiedUpTo?.treeSize ?? from)).toBeLessThanOrEqual(target);

      // A token forged to go on past the changed entry: the answer says where it began,
      // after it, and verifies from there; a chain of pages with a gap is refused.
      const forged = Buffer.from(JSON.stringify({ n: target + 1, e: to })).toString('base64url');
      const skipped = await ask({ from: '0', to: '0', pageSize: 8, pageToken: forged });
      expect(skipped.from).toBe(String(target + 1));
      expect(skipped.firstMismatch).toBeUndefined();
      let first = true;
      await expect(
        verifyLogPages(
          async (request) => {
            const page = await ask(first ? request : { ...request, pageToken: forged });
            first = false;
            return page;
          },
          { from, to, pageSize: Number(third.from) - from },
        ),
      ).rejects.toThrow(VerifyLogPagingError);
      expect(
        await refusalOf(ask({ from: '0', to: '0', pageSize: 8, pageToken: 'made-up' })),
      ).toMatchObject({ code: status.INVALID_ARGUMENT, reason: 'BAD_PAGE_TOKEN' });
    } finally {
      await auditDb.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [
        target,
        original,
      ]);
    }
    expect((await verifyLogPages(ask, { from, to, pageSize: 8 })).ok).toBe(true);
  });

  it('detects the newest entries deleted, against the last signed checkpoint', async () => {
    const events = readEvents(4);
    await produce(events);
    const indexes = await indexesOf(events);
    const newest = indexes.at(-1) ?? 0;
    const checkpoint = await checkpointCovering(newest);
    const from = indexes[0] ?? 0;
    const { rows } = await auditDb.query(
      'SELECT * FROM audit_log_entries WHERE entry_index >= $1 ORDER BY entry_index',
      [from],
    );
    try {
      await auditDb.query('DELETE FROM audit_log_entries WHERE entry_index >= $1', [from]);
      const report = await verifyLog();
      expect(report.ok).toBe(false);
      expect(Number(report.to)).toBeGreaterThanOrEqual(Number(checkpoint.treeSize));
      expect(report.firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_MISSING,
        index: String(from),
      });
    } finally {
      await restore(rows);
    }
    expect((await verifyLog()).ok).toBe(true);
  });

  it('lets only auditors read entries or verify the log; proofs need no session', async () => {
    for (const method of ['getEntries', 'verifyLog'] as const) {
      const call = (token?: string) =>
        method === 'getEntries'
          ? clients.audit.call(
              'getEntries',
              { start: '0', end: '1', pageSize: 1, pageToken: '' },
              as(token),
            )
          : clients.audit.call(
              'verifyLog',
              { from: '0', to: '0', pageSize: 0, pageToken: '' },
              as(token),
            );
      const anonymous = await refusalOf(call());
      expect([anonymous.code, anonymous.reason]).toEqual([
        status.UNAUTHENTICATED,
        'TOKEN_REQUIRED',
      ]);
      const vaccinator = await refusalOf(call(sessions.vaccinator));
      expect([vaccinator.code, vaccinator.reason]).toEqual([
        status.PERMISSION_DENIED,
        'NOT_AUDITOR',
      ]);
    }
    const proof = await clients.audit.call(
      'getConsistencyProof',
      { oldSize: '1', newSize: '0' },
      as(),
    );
    expect(proof.hashes.length).toBeGreaterThan(0);
  });

  it('answers OUT_OF_RANGE for a position past the end of the log, INVALID_ARGUMENT for a request no log answers', async () => {
    const { treeSize } = await clients.audit.call('getCheckpoint', {}, as());
    const pastEnd = String(Number(treeSize) + 1_000_000);
    const refusals = {
      leafPastLatest: await refusalOf(
        clients.audit.call('getInclusionProof', { index: pastEnd, treeSize: '0' }, as()),
      ),
      treePastEnd: await refusalOf(
        clients.audit.call('getInclusionProof', { index: '0', treeSize: pastEnd }, as()),
      ),
      beyondUint53: await refusalOf(
        clients.audit.call('getInclusionProof', { index: String(2n ** 60n), treeSize: '0' }, as()),
      ),
      newSizePastEnd: await refusalOf(
        clients.audit.call('getConsistencyProof', { oldSize: '1', newSize: pastEnd }, as()),
      ),
      oldSizePastLatest: await refusalOf(
        clients.audit.call('getConsistencyProof', { oldSize: pastEnd, newSize: '0' }, as()),
      ),
      entriesPastEnd: await refusalOf(
        clients.audit.call(
          'getEntries',
          { start: pastEnd, end: '0', pageSize: 1, pageToken: '' },
          as(sessions.auditor),
        ),
      ),
      leafOutsideNamedTree: await refusalOf(
        clients.audit.call('getInclusionProof', { index: '2', treeSize: '1' }, as()),
      ),
      fromEmptyTree: await refusalOf(
        clients.audit.call('getConsistencyProof', { oldSize: '0', newSize: '0' }, as()),
      ),
      reversedEntries: await refusalOf(
        clients.audit.call(
          'getEntries',
          { start: '2', end: '1', pageSize: 1, pageToken: '' },
          as(sessions.auditor),
        ),
      ),
    };
    const seen = Object.fromEntries(
      Object.entries(refusals).map(([name, refusal]) => [name, [refusal.code, refusal.reason]]),
    );
    const pastTheEnd = [status.OUT_OF_RANGE, 'OUT_OF_RANGE'];
    const neverAnswerable = [status.INVALID_ARGUMENT, 'OUT_OF_RANGE'];
    expect(seen).toEqual({
      leafPastLatest: pastTheEnd,
      treePastEnd: pastTheEnd,
      beyondUint53: pastTheEnd,
      newSizePastEnd: pastTheEnd,
      oldSizePastLatest: pastTheEnd,
      entriesPastEnd: pastTheEnd,
      leafOutsideNamedTree: neverAnswerable,
      fromEmptyTree: neverAnswerable,
      reversedEntries: neverAnswerable,
    });
  });

  it('keeps each centre identity announces in its directory once, however often it is delivered', async () => {
    const centreId = `ctr-${randomUUID()}`;
    const announce = (name: string) =>
      buildEvent(EVENTS.centreCreated, {
        actor: { kind: ActorKind.ACTOR_KIND_STAFF, principalId: 'stf-admin', clientId: 'console' },
        subject: { kind: SubjectKind.SUBJECT_KIND_SYSTEM, ref: centreId },
        payload: { centreId, name, district: 'Pune', state: 'Maharashtra' },
        occurredAt: new Date(),
      });
    const announced = announce('CHC Hadapsar');
    // Delivered twice, then announced again under another event id (a replay).
    const again = announce('Somewhere else');
    expect(EVENTS.centreCreated.topic).toBe(EVENTS.accessGranted.topic);
    await produce([announced, announced, again]);
    await indexesOf([announced, again]);
    const { rows } = await auditDb.query<{ name: string; event_id: string }>(
      'SELECT name, event_id FROM audit_directory_centres WHERE centre_id = $1',
      [centreId],
    );
    expect(rows).toEqual([{ name: 'CHC Hadapsar', event_id: announced.envelope.eventId }]);
  });

  it('exports a range larger than a chunk: the entries QueryEntries gives, in order, the export itself in the log', async () => {
    const actor = `stf_${randomUUID().slice(0, 8)}`;
    const events = readEvents(25, actor);
    await produce(events);
    const indexes = await indexesOf(events);
    const chunks = await exported({ actorId: actor, chunkSize: 10 }, sessions.auditor);
    expect(chunks.map((chunk) => chunk.length)).toEqual([10, 10, 5]);
    const exportedEntries = chunks.flat();
    expect(exportedEntries.map((entry) => Number(entry.index))).toEqual(indexes);
    // Page by page, QueryEntries gives the same entries, byte for byte.
    const paged: auditV1.LogEntry[] = [];
    let pageToken = '';
    do {
      const page = await clients.audit.call(
        'queryEntries',
        { ...exportRequest({ actorId: actor }), pageSize: 7, pageToken },
        as(sessions.auditor),
      );
      paged.push(...page.entries);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(exportedEntries).toEqual(paged);
    // The export is an audit.queried event of its own, by the auditor, naming its filters.
    const recorded = await eventually(async () => {
      const { rows } = await auditDb.query<{ entry: Buffer }>(
        'SELECT entry FROM audit_log_entries WHERE event_type = $1 ORDER BY entry_index',
        [EVENTS.auditQueried.name],
      );
      const found = rows
        .map((row) => decodeEntry(row.entry).event)
        .find((event) => {
          const payload = EVENTS.auditQueried.payload.decode(event.payload.value);
          return payload.query === 'ExportEntries' && payload.actorId === actor;
        });
      if (!found) throw new Error('the export is not in the log yet');
      return found;
    });
    expect(recorded.actor.kind).toBe('ACTOR_KIND_STAFF');
    expect(recorded.actor.principalId).not.toBe('');
  });

  it('refuses an export to anyone but auditors, before sending anything', async () => {
    const received: unknown[] = [];
    const attempt = async (token?: string) =>
      refusalOf(
        (async () => {
          for await (const chunk of exportEntries({}, token)) received.push(chunk);
        })(),
      );
    const vaccinator = await attempt(sessions.vaccinator);
    expect([vaccinator.code, vaccinator.reason]).toEqual([status.PERMISSION_DENIED, 'NOT_AUDITOR']);
    const anonymous = await attempt();
    expect([anonymous.code, anonymous.reason]).toEqual([status.UNAUTHENTICATED, 'TOKEN_REQUIRED']);
    const reversed = await refusalOf(
      exported({ from: new Date(2_000), to: new Date(1_000) }, sessions.auditor),
    );
    expect([reversed.code, reversed.reason]).toEqual([status.INVALID_ARGUMENT, 'OUT_OF_RANGE']);
    expect(received).toEqual([]);
  });

  it('reads the log only as fast as a slow auditor takes the export (flow control), and stops when cancelled', async () => {
    const actor = `stf_${randomUUID().slice(0, 8)}`;
    const total = 2_000;
    const chunkSize = 5;
    const events = readEvents(total, actor);
    await produce(events);
    await indexesOf(events);
    using reads = countReadsOf(actor);
    const iterator = exportEntries({ actorId: actor, chunkSize }, sessions.auditor)[
      Symbol.asyncIterator
    ]();
    const first = await iterator.next();
    const firstEntries: auditV1.LogEntry[] = first.done ? [] : first.value.entries;
    expect(firstEntries).toHaveLength(chunkSize);
    // The auditor takes nothing more for a while: the service fills what flow control
    // lets through (its write buffer, the HTTP/2 windows, the client's buffer) and waits.
    await pause(500);
    const whilePaused = reads.count();
    await pause(500);
    console.log(
      `[measure] chunks read from the log while the auditor was paused: ${reads.count()} of ${total / chunkSize}`,
    );
    expect(reads.count()).toBe(whilePaused);
    expect(whilePaused).toBeLessThan(total / chunkSize / 4);
    // Taken again, the rest arrives, all of it, in order.
    const indexes = firstEntries.map((entry) => Number(entry.index));
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      indexes.push(...next.value.entries.map((entry) => Number(entry.index)));
    }
    expect(indexes).toEqual(await indexesOf(events));
    expect(reads.count()).toBeGreaterThanOrEqual(total / chunkSize);

    // Cancelled after a few chunks: the service stops reading and says so.
    const before = reads.count();
    const cancelled = exportEntries({ actorId: actor, chunkSize }, sessions.auditor)[
      Symbol.asyncIterator
    ]();
    for (let i = 0; i < 3; i++) await cancelled.next();
    await cancelled.return?.();
    await eventually(async () => {
      const stopped = logs
        .records()
        .some(
          (line) =>
            line['msg'] === 'call cancelled' && String(line['method']).endsWith('/ExportEntries'),
        );
      if (!stopped) throw new Error('the export has not stopped yet');
    });
    const afterCancel = reads.count() - before;
    await pause(300);
    expect(reads.count() - before).toBe(afterCancel);
    expect(afterCancel).toBeLessThan(total / chunkSize / 4);
    // Its end is in the log all the same, written after the call (and its signal) ended:
    // what the auditor took, and that the auditor cancelled.
    const ends = await eventually(async () => {
      const { rows } = await auditDb.query<{ entry: Buffer }>(
        'SELECT entry FROM audit_log_entries WHERE event_type = $1 ORDER BY entry_index',
        [EVENTS.auditQueried.name],
      );
      const found = rows
        .map((row) =>
          EVENTS.auditQueried.payload.decode(decodeEntry(row.entry).event.payload.value),
        )
        .filter((payload) => payload.actorId === actor && payload.ended === 'CANCELLED');
      if (found.length === 0) throw new Error('the cancelled export’s end is not in the log yet');
      return found;
    });
    expect(ends).toHaveLength(1);
    expect(ends[0]!.entriesReturned).toBeGreaterThanOrEqual(chunkSize);
  });

  it('goes on after a restart from the stored tree, consistent with what it signed before', async () => {
    const before = await clients.audit.call('getCheckpoint', {}, as());
    await audit.runtime.stop();
    audit = await createAuditApp(auditConfig, { logSink: logs });
    await audit.runtime.start();
    clients.audit.close();
    clients = { ...clients, audit: auditClient() };
    const events = readEvents(6);
    await produce(events);
    const indexes = await indexesOf(events);
    // Nothing appended twice across the restart, even what was redelivered after it.
    expect(indexes).toHaveLength(6);
    const after = await checkpointCovering(indexes.at(-1) ?? 0);
    const consistency = await clients.audit.call(
      'getConsistencyProof',
      { oldSize: before.treeSize, newSize: after.treeSize },
      as(),
    );
    auditCheckpoint({
      verifierKey: signer.verifierKey,
      signedCheckpoint: after.signedCheckpoint,
      consistency: {
        previous: { size: Number(before.treeSize), rootHash: before.rootHash },
        proof: consistency.hashes,
      },
    });
    expect((await verifyLog()).ok).toBe(true);
    const { rows } = await auditDb.query<{ entries: string }>(
      "SELECT string_agg(convert_from(entry, 'UTF8'), '') AS entries FROM audit_log_entries",
    );
    const mobiles = [ADMIN_MOBILE, '9720000002', '9720000003'];
    expect(
      leaks(logs.text() + (rows[0]?.entries ?? ''), [...mobiles, ...Object.values(sessions)]),
    ).toEqual([]);
  });

  /** Puts rows read with SELECT * back, as they were. */
  async function restore(rows: readonly Record<string, unknown>[]): Promise<void> {
    for (const row of rows) {
      const columns = Object.keys(row);
      await auditDb.query(
        `INSERT INTO audit_log_entries (${columns.join(', ')})
         VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
        columns.map((column) => row[column]),
      );
    }
  }
});
