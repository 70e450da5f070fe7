import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
  type OutgoingEvent,
} from '@vaxguard/event-catalogue';
import { verifyLogPages } from '@vaxguard/dev-operator';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { MemoryLogSink } from '@vaxguard/logging';
import { auditV1, identityStaffV1 } from '@vaxguard/proto';
import {
  callAs,
  cutAuditLogTiles,
  eventually,
  startPlatform,
  testClient,
  type Platform,
} from '@vaxguard/testing';
import {
  auditCheckpoint,
  generateSignerKey,
  parseCosignatureVerifierKey,
  parseSignerKey,
  signCheckpoint,
  verifyCosignatures,
} from '@vaxguard/tlog';
import {
  addCheckpoint,
  startWitness,
  witnessBinDir,
  WitnessInconsistentError,
  type RunningWitness,
} from '@vaxguard/witness';
import { KEPT_STATE_FILE } from './adapters/kept-state-file';
import { createAuditApp, type AuditApp } from './app';
import { readConfig } from './config';
import { ENTRIES_PER_PARTITION } from './domain/log-rules';

const LOG_NAME = 'audit.rollback-test.vaxguard';

/**
 * The tamperings of issue 22 item 3, each made with SQL on the running audit service's
 * PostgreSQL (in-process, real Kafka, OTP and identity for the auditor's session) while
 * a real witness (litewitness) cosigns its checkpoints. The tests run in order: the
 * first three put back what they changed; the truncation halts the log for good, and
 * the last one starts it again from an older copy of its state file.
 */
describe('audit log rollback and tampering (real PostgreSQL, Kafka, litewitness)', () => {
  const logs = new MemoryLogSink();
  const console_ = testClient('rollback-console');
  const svcAudit = testClient('svc-audit');
  const signer = generateSignerKey(LOG_NAME);
  const dir = mkdtempSync(join(tmpdir(), 'vaxguard-audit-rollback-'));
  const stateDir = join(dir, 'audit-state');
  const witnessOptions = {
    dir: join(dir, 'witness'),
    logs: [{ origin: LOG_NAME, verifierKey: signer.verifierKey }],
    binDir: witnessBinDir(process.env['VAXGUARD_CACHE_DIR']),
  };
  let platform: Platform;
  let witness: RunningWitness;
  let audit: AuditApp;
  let auditConfig: ReturnType<typeof readConfig>;
  let auditEnvironment: Record<string, string> = {};
  const environment = () => auditEnvironment;
  let auditDb: pg.Pool;
  let producer: Producer;
  let auditClient: ReturnType<typeof connectAudit>;
  let auditor = '';

  function connectAudit() {
    return createServiceClient(auditV1.AuditServiceService, {
      clientId: console_.clientId,
      secret: console_.secret,
      deadlineMs: 15_000,
      address: `127.0.0.1:${audit.runtime.port}`,
    });
  }

  async function startAudit(): Promise<void> {
    audit = await createAuditApp(auditConfig, { logSink: logs });
    await audit.runtime.start();
    auditClient = connectAudit();
  }

  async function stopAudit(): Promise<void> {
    auditClient.close();
    await audit.runtime.stop();
  }

  /** Events of this test's own: a vaccinator's reads of beneficiaries. */
  async function produce(count: number): Promise<OutgoingEvent[]> {
    const actor = `stf_${randomUUID().slice(0, 8)}`;
    const events = Array.from({ length: count }, (_, i) =>
      buildEvent(EVENTS.accessGranted, {
        actor: { kind: ActorKind.ACTOR_KIND_STAFF, principalId: actor, clientId: 'console' },
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
    await producer.send({
      topic: EVENTS.accessGranted.topic,
      messages: events.map((event) => ({ key: event.key, value: encodeEnvelope(event.envelope) })),
    });
    return events;
  }

  /** The log indexes of the events, once every one is in the log. */
  async function indexesOf(events: readonly OutgoingEvent[]): Promise<number[]> {
    return eventually(async () => {
      const { rows } = await auditDb.query<{ entry_index: string }>(
        `SELECT entry_index FROM audit_log_entries WHERE event_id = ANY($1::uuid[])
          ORDER BY entry_index`,
        [events.map((e) => e.envelope.eventId)],
      );
      if (rows.length < events.length) throw new Error(`${rows.length} of ${events.length}`);
      return rows.map((row) => Number(row.entry_index));
    });
  }

  const getCheckpoint = () => auditClient.call('getCheckpoint', {}, callAs());

  /** The published (cosigned) checkpoint, once it covers `size` entries. */
  async function publishedCovering(size: number) {
    return eventually(async () => {
      const checkpoint = await getCheckpoint();
      if (Number(checkpoint.treeSize) < size) throw new Error('not cosigned yet');
      return checkpoint;
    });
  }

  const verifyLog = () =>
    verifyLogPages((request) => auditClient.call('verifyLog', request, callAs(auditor)));

  /** The log's own alerts of `rule` that ListAlerts shows an auditor. */
  async function alertsOf(rule: string) {
    const { alerts } = await auditClient.call(
      'listAlerts',
      { pageSize: 500, pageToken: '', unacknowledgedOnly: false },
      callAs(auditor),
    );
    return alerts.filter((record) => record.alert?.rule === rule);
  }

  async function storedHead(): Promise<{ size: number; root: Buffer }> {
    const { rows } = await auditDb.query<{ tree_size: string; root_hash: Buffer }>(
      'SELECT tree_size, root_hash FROM audit_log_head',
    );
    return { size: Number(rows[0]?.tree_size), root: rows[0]?.root_hash ?? Buffer.alloc(0) };
  }

  async function largestStoredCheckpoint(): Promise<number> {
    const { rows } = await auditDb.query<{ size: string | null }>(
      'SELECT max(tree_size) AS size FROM audit_checkpoints',
    );
    return Number(rows[0]?.size ?? 0);
  }

  /**
   * What the attacker of the issue did, with write access to the database and no key:
   * the entries from `size` on, their tree tiles cut and later checkpoints deleted, and the
   * head recomputed (the root of the stored checkpoint of that size), in one transaction
   * that holds the head as the service's appends do.
   */
  async function truncateTo(size: number): Promise<void> {
    const client = await auditDb.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM audit_log_head FOR UPDATE');
      await client.query('DELETE FROM audit_log_entries WHERE entry_index >= $1', [size]);
      await cutAuditLogTiles(client, size);
      await client.query('DELETE FROM audit_checkpoints WHERE tree_size > $1', [size]);
      const { rowCount } = await client.query(
        `UPDATE audit_log_head SET tree_size = $1,
           root_hash = (SELECT root_hash FROM audit_checkpoints WHERE tree_size = $1)`,
        [size],
      );
      expect(rowCount).toBe(1);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Two entries swapped in place, in one transaction, through a free index: the last of
   * the first partition (entries are partitioned by index; this log is far smaller).
   */
  async function swapEntries(first: number, second: number): Promise<void> {
    const free = ENTRIES_PER_PARTITION - 1;
    const client = await auditDb.connect();
    const move = (from: number, to: number) =>
      client.query('UPDATE audit_log_entries SET entry_index = $2 WHERE entry_index = $1', [
        from,
        to,
      ]);
    try {
      await client.query('BEGIN');
      await move(first, free);
      await move(second, first);
      await move(free, second);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  /** A stored checkpoint of at most `size` entries, the largest. */
  async function storedCheckpointAtMost(size: number): Promise<number> {
    const { rows } = await auditDb.query<{ size: string }>(
      'SELECT max(tree_size) AS size FROM audit_checkpoints WHERE tree_size <= $1 AND tree_size > 0',
      [size],
    );
    return Number(rows[0]?.size);
  }

  beforeAll(async () => {
    platform = await startPlatform({
      services: ['otp', 'identity'],
      otpClients: [console_.credential, svcAudit.credential],
      identityClients: [console_.credential],
      adminMobile: '9730000001',
    });
    witness = await startWitness(witnessOptions);
    const auditUrl = await platform.postgres.createDatabase();
    auditEnvironment = {
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      DATABASE_URL: auditUrl,
      KAFKA_BROKERS: platform.kafka.brokers.join(','),
      CLIENT_CREDENTIALS: console_.credential,
      LOG_LEVEL: 'info',
      OTP_GRPC_ADDRESS: platform.address('otp'),
      SERVICE_CLIENT_ID: svcAudit.clientId,
      SERVICE_CLIENT_SECRET: svcAudit.secret,
      AUDIT_LOG_SIGNER_KEY: signer.signerKey,
      AUDIT_CHECKPOINT_EVERY_ENTRIES: '10',
      AUDIT_CHECKPOINT_INTERVAL: '200ms',
      AUDIT_STATE_DIR: stateDir,
      AUDIT_WITNESSES: `${witness.name}|${witness.url}|${witness.verifierKey}`,
      // The five minutes of the issue, shortened: a test does not wait them out.
      AUDIT_NOT_COSIGNED_ALERT_AFTER: '2s',
    };
    auditConfig = readConfig(environment());
    await startAudit();
    auditDb = new pg.Pool({ connectionString: auditUrl, max: 2 });
    producer = new Kafka({
      clientId: 'audit-rollback-test',
      brokers: platform.kafka.brokers as string[],
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    // Closed with the platform.
    const clients = platform.connect(console_, { deadlineMs: 15_000 });
    const admin = await platform.staffSession(
      clients,
      platform.admin.username,
      platform.admin.password,
    );
    const password = 'a long passphrase for the rollback auditor';
    await clients.identity.call(
      'createStaff',
      {
        username: 'auditor.rollback',
        displayName: 'auditor',
        role: identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR,
        centreId: '',
        mobile: '9730000002',
        password,
      },
      callAs(admin),
    );
    auditor = await platform.staffSession(clients, 'auditor.rollback', password);
  }, 240_000);

  afterAll(async () => {
    auditClient?.close();
    await producer?.disconnect().catch(() => undefined);
    await auditDb?.end().catch(() => undefined);
    await audit?.runtime.stop().catch(() => undefined);
    await witness?.stop();
    await platform?.stop();
  });

  it('publishes only checkpoints the witness cosigned', async () => {
    const indexes = await indexesOf(await produce(25));
    const published = await publishedCovering((indexes.at(-1) ?? 0) + 1);
    const opened = auditCheckpoint({
      verifierKey: signer.verifierKey,
      signedCheckpoint: published.signedCheckpoint,
    });
    const cosignatures = verifyCosignatures(published.signedCheckpoint, [
      parseCosignatureVerifierKey(witness.verifierKey),
    ]);
    expect(cosignatures.map((cosignature) => cosignature.name)).toEqual([witness.name]);
    // An early copy of the state file, for the last test.
    copyFileSync(join(stateDir, KEPT_STATE_FILE), join(dir, 'kept-early.json'));
    expect(opened.size).toBe(Number(published.treeSize));
    expect(published.halted).toBe(false);
  });

  it('names an old entry changed with UPDATE, raises a CRITICAL alert, and goes on signing', async () => {
    const [, target = 0] = await indexesOf(await produce(3));
    await publishedCovering(target + 1);
    const { rows } = await auditDb.query<{ entry: Buffer }>(
      'SELECT entry FROM audit_log_entries WHERE entry_index = $1',
      [target],
    );
    const original = rows[0]?.entry ?? Buffer.alloc(0);
    try {
      await auditDb.query(
        `UPDATE audit_log_entries
            SET entry = convert_to(replace(convert_from(entry, 'UTF8'), 'stf_', 'stX_'), 'UTF8')
          WHERE entry_index = $1`,
        [target],
      );
      expect((await verifyLog()).firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
        index: String(target),
      });
      const [alert] = await alertsOf('LOG_TAMPERED');
      expect(alert?.alert).toMatchObject({
        severity: auditV1.Severity.SEVERITY_CRITICAL,
        principalId: LOG_NAME,
        window: { observed: target },
      });
    } finally {
      await auditDb.query('UPDATE audit_log_entries SET entry = $2 WHERE entry_index = $1', [
        target,
        original,
      ]);
    }
    // The tree itself was not touched: checkpoints go on being signed and cosigned.
    const [later = 0] = await indexesOf(await produce(12));
    expect(Number((await publishedCovering(later + 1)).treeSize)).toBeGreaterThan(later);
    expect((await verifyLog()).ok).toBe(true);
  });

  it('names the first of two entries swapped, with a CRITICAL alert', async () => {
    const indexes = await indexesOf(await produce(6));
    const [first = 0, second = 0] = [indexes[1], indexes[4]];
    await publishedCovering(second + 1);
    const before = (await alertsOf('LOG_TAMPERED')).length;
    await swapEntries(first, second);
    try {
      expect((await verifyLog()).firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_LEAF_HASH,
        index: String(first),
      });
      expect((await alertsOf('LOG_TAMPERED')).length).toBe(before + 1);
    } finally {
      await swapEntries(first, second);
    }
    expect((await verifyLog()).ok).toBe(true);
  });

  it('names the newest entries deleted (the head left as it was), with a CRITICAL alert', async () => {
    const indexes = await indexesOf(await produce(4));
    const from = indexes[0] ?? 0;
    await publishedCovering((indexes.at(-1) ?? 0) + 1);
    const { rows } = await auditDb.query<Record<string, unknown>>(
      'SELECT * FROM audit_log_entries WHERE entry_index >= $1 ORDER BY entry_index',
      [from],
    );
    try {
      await auditDb.query('DELETE FROM audit_log_entries WHERE entry_index >= $1', [from]);
      expect((await verifyLog()).firstMismatch).toMatchObject({
        kind: auditV1.MismatchKind.MISMATCH_KIND_ENTRY_MISSING,
        index: String(from),
      });
      expect(
        (await alertsOf('LOG_TAMPERED')).some((record) => record.alert?.window?.observed === from),
      ).toBe(true);
    } finally {
      for (const row of rows) {
        const columns = Object.keys(row);
        await auditDb.query(
          `INSERT INTO audit_log_entries (${columns.join(', ')})
           VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
          columns.map((column) => row[column]),
        );
      }
    }
    expect((await verifyLog()).ok).toBe(true);
  });

  it('appends on while the witness is down, alerts once when nothing was cosigned for the window, and cosigns again when it is back', async () => {
    await witness.stop();
    // A round that had the witness's answer before it stopped is saved by then.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = Number((await getCheckpoint()).treeSize);
    try {
      const indexes = await indexesOf(await produce(15));
      // Signed by the log, not published: the witness has not cosigned.
      await eventually(async () => {
        expect(await largestStoredCheckpoint()).toBeGreaterThan(indexes.at(-1) ?? 0);
      });
      expect(Number((await getCheckpoint()).treeSize)).toBe(before);
      const [alert] = await eventually(
        async () => {
          const alerts = await alertsOf('CHECKPOINT_NOT_COSIGNED');
          if (alerts.length === 0) throw new Error('no alert yet');
          return alerts;
        },
        { timeoutMs: 20_000 },
      );
      expect(alert?.alert?.severity).toBe(auditV1.Severity.SEVERITY_HIGH);
      // Once per stall, however long it goes on.
      await produce(5);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await alertsOf('CHECKPOINT_NOT_COSIGNED')).toHaveLength(1);
    } finally {
      witness = await startWitness({ ...witnessOptions, port: witness.port });
    }
    const [last = 0] = (await indexesOf(await produce(3))).slice(-1);
    expect(Number((await publishedCovering(last + 1)).treeSize)).toBeGreaterThan(before);
    // Said once when the witness stopped answering and once when it answered again.
    expect(logs.text().split('a witness did not cosign; the checkpoint waits')).toHaveLength(2);
    expect(logs.text()).toContain('the witnesses cosign again');
  });

  it('refuses to sign or publish a truncated log with its head recomputed, and the fork it grows into; the witness refuses the fork', async () => {
    await indexesOf(await produce(40));
    const published = await eventually(async () => {
      const checkpoint = await getCheckpoint();
      if (Number(checkpoint.treeSize) < (await storedHead()).size - 5) throw new Error('behind');
      return Number(checkpoint.treeSize);
    });
    const target = await storedCheckpointAtMost(published - 30);
    await truncateTo(target);

    // The service appends on (events keep coming) but signs nothing, and halts.
    await indexesOf(await produce(5));
    const halted = await eventually(async () => {
      const checkpoint = await getCheckpoint();
      if (!checkpoint.halted) throw new Error('not halted yet');
      return checkpoint;
    });
    // What the log had signed and what the witness had cosigned, kept outside the database.
    const state = keptState();
    const keptSize = state.signed.size;
    expect(halted.treeSize).toBe(String(state.cosigned.size));
    expect(Number(halted.treeSize)).toBeGreaterThanOrEqual(published);
    expect(halted.haltReason).toMatch(/^SHRUNK: /);
    expect(await largestStoredCheckpoint()).toBe(target);
    const [rollback] = await alertsOf('LOG_ROLLBACK');
    expect(rollback?.alert).toMatchObject({
      severity: auditV1.Severity.SEVERITY_CRITICAL,
      principalId: LOG_NAME,
      window: { threshold: keptSize },
    });
    // VerifyLog says so first, naming the first entry gone.
    expect((await verifyLog()).firstMismatch).toMatchObject({
      kind: auditV1.MismatchKind.MISMATCH_KIND_LOG_SHRUNK,
      index: String(target),
      checkpointSize: String(keptSize),
    });

    // The fork grows past the old size: still nothing signed, nothing published.
    await indexesOf(await produce(60));
    const forked = await storedHead();
    expect(forked.size).toBeGreaterThan(keptSize);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await largestStoredCheckpoint()).toBe(target);
    expect((await getCheckpoint()).treeSize).toBe(halted.treeSize);
    expect((await verifyLog()).firstMismatch).toMatchObject({
      kind: auditV1.MismatchKind.MISMATCH_KIND_CHECKPOINT_ROOT,
      checkpointSize: String(keptSize),
    });

    // Had the log signed the fork (with its key, as the issue's did), the witness
    // would refuse it: the stored nodes give no proof from what it cosigned.
    const forkedCheckpoint = signCheckpoint(
      { origin: LOG_NAME, size: forked.size, rootHash: forked.root },
      [parseSignerKey(signer.signerKey)],
    );
    const witnessSize = state.cosigned.size;
    const proof = await auditClient.call(
      'getConsistencyProof',
      { oldSize: String(witnessSize), newSize: String(forked.size) },
      callAs(),
    );
    await expect(
      addCheckpoint(witness.url, {
        oldSize: witnessSize,
        consistencyProof: proof.hashes,
        checkpoint: forkedCheckpoint,
      }),
    ).rejects.toBeInstanceOf(WitnessInconsistentError);
  });

  it('halts when its witness holds more than a log whose state file was rolled back with its database, or refuses its fork', async () => {
    // Both rolled back together, to an early copy: the log alone cannot tell, its witness can.
    const rollbacks = (await alertsOf('LOG_ROLLBACK')).length;
    await stopAudit();
    copyFileSync(join(dir, 'kept-early.json'), join(stateDir, KEPT_STATE_FILE));
    const early = keptState();
    expect(early.halt).toBeUndefined();
    await truncateTo(early.signed.size);
    // Sent while the service is down: a fork of a hundred entries past the early copy.
    await produce(100);
    await startAudit();
    const halted = await eventually(async () => {
      const checkpoint = await getCheckpoint();
      if (!checkpoint.halted) throw new Error('not halted yet');
      return checkpoint;
    });
    expect(halted.haltReason).toMatch(/^WITNESS_(REFUSED|AHEAD): /);
    expect(halted.treeSize).toBe(String(early.cosigned.size));
    expect(await alertsOf('LOG_ROLLBACK')).toHaveLength(rollbacks + 1);
  });

  it('clears a halt only for the stored tree the operator names, and the witness still holds the log to what it cosigned', async () => {
    const rollbacks = (await alertsOf('LOG_ROLLBACK')).length;
    await stopAudit();
    const head = await storedHead();
    const named = (size: number) => `${size}:${head.root.toString('base64')}`;
    // A value naming another tree is refused at start-up: it could accept a later tampering.
    const otherwise = readConfig({ ...environment(), AUDIT_ACCEPT_ROLLBACK: named(head.size + 1) });
    await expect(createAuditApp(otherwise, { logSink: logs })).rejects.toThrow(
      /AUDIT_ACCEPT_ROLLBACK names a tree of/,
    );
    const before = keptState().halt as { at: string };
    expect(before).toBeDefined();
    auditConfig = readConfig({ ...environment(), AUDIT_ACCEPT_ROLLBACK: named(head.size) });
    await startAudit();
    // The stored tree extends what this (rolled back) state file kept: restored, not replaced.
    expect(logs.text()).toContain('the operator accepted the stored tree');
    expect(logs.text()).toContain('"outcome":"RESTORED"');
    // The log signs again, but its witness cosigned more of the old log than this one
    // kept, or refuses the fork: it halts again, anew, rather than publish a rewritten
    // history.
    await indexesOf(await produce(20));
    const halted = await eventually(async () => {
      const checkpoint = await getCheckpoint();
      const halt = keptState().halt as { at: string } | undefined;
      if (!checkpoint.halted || halt?.at === before.at) throw new Error('not halted anew yet');
      return checkpoint;
    });
    expect(halted.haltReason).toMatch(/^WITNESS_(REFUSED|AHEAD): /);
    expect(await alertsOf('LOG_ROLLBACK')).toHaveLength(rollbacks + 1);
  });

  /** The state file as the service keeps it. */
  function keptState(): {
    signed: { size: number };
    cosigned: { size: number };
    halt?: unknown;
  } {
    return JSON.parse(readFileSync(join(stateDir, KEPT_STATE_FILE), 'utf8')) as ReturnType<
      typeof keptState
    >;
  }
});
