// Two instances of every service (issue 19, "more than one instance"): one platform of
// real processes, each service twice on one database, Kafka's consumer groups and keys,
// every caller balancing over both (round_robin over the list of addresses). What must
// hold exactly as with one instance: the OTP per-mobile quota, RecordDose's idempotency,
// the per-staff quota at its edge, an anomaly rule raised once; the audit log, appended to
// by both audit instances at once, never forks; and one instance killed with SIGKILL
// mid-load loses no acknowledged call while the other takes over its partitions (the
// chaos suite's load, ledger and checks).
import { randomBytes } from 'node:crypto';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { AssignerProtocol, Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAs, grpcAuditLogSource, verifyAuditLog } from '@vaxguard/dev-operator';
import { isVaxGuardError } from '@vaxguard/errors';
import {
  ActorKind,
  buildEvent,
  encodeEnvelope,
  EVENTS,
  SubjectKind,
} from '@vaxguard/event-catalogue';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { eventually, type ServiceProcess, type World } from '@vaxguard/testing';
import { verifyConsistency } from '@vaxguard/tlog';
import { CHAOS_PLATFORM_ENV, startChaosWorld } from './load';
import { CHAOS_FORM, runScenario } from './scenario';
import { printTable } from './table';
import type { RunResult } from './verify';

const INSTANCES = 2;
/** The audit service's consumer groups: the log's and the anomaly rules'. */
const AUDIT_GROUPS = ['audit-log', 'audit-anomalies'];
/** Events the two audit instances take in at once in the burst. */
const BURST = 600;
const VACCINATOR = identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR;
const AUDITOR = identityStaffV1.StaffRole.STAFF_ROLE_AUDITOR;

type Service = 'otp' | 'identity' | 'vaccination-record' | 'audit';

/** Today in India Standard Time, as RecordDose's administered_on wants it. */
const indianToday = () => new Date(Date.now() + 5.5 * 3_600_000).toISOString().slice(0, 10);

describe('two instances of every service', () => {
  let world: World;
  let admin: Admin;
  let producer: Producer;
  let records: pg.Client;
  let audit: pg.Client;
  const opened: { close(): void }[] = [];
  const results: RunResult[] = [];

  beforeAll(async () => {
    world = await startChaosWorld({ instances: INSTANCES, configuredClients: ['login-sprayer'] });
    const kafka = new Kafka({
      clientId: 'two-of-each-observer',
      brokers: [...world.platform.kafka.brokers],
      logLevel: logLevel.NOTHING,
    });
    admin = kafka.admin();
    producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    records = new pg.Client({ connectionString: world.platform.databases['vaccination-record'] });
    audit = new pg.Client({ connectionString: world.platform.databases.audit });
    await Promise.all([records.connect(), audit.connect()]);
  }, 300_000);

  afterAll(async () => {
    if (results.length > 0) printTable('two instances of each', results);
    for (const client of opened) client.close();
    await records?.end();
    await audit?.end();
    await producer?.disconnect();
    await admin?.disconnect();
    await world?.stop();
  });

  /** One client per instance of a service (no retries: each answer is what that instance said). */
  function perInstance<D extends ServiceDefinition>(
    definition: D,
    service: Service,
    client = world.platform.operator,
  ): ServiceClient<D>[] {
    return world.platform.instancesOf(service).map((instance) => {
      const opened1 = createServiceClient(definition, {
        address: instance.address,
        clientId: client.clientId,
        secret: client.secret,
        deadlineMs: 15_000,
        retry: { maxAttempts: 1 },
      });
      opened.push(opened1);
      return opened1;
    });
  }

  /** A call's outcome: `ok`, or the refusal's code and reason. */
  const outcome = (call: Promise<unknown>): Promise<string> =>
    call.then(
      () => 'ok',
      (error: unknown) =>
        isVaxGuardError(error) ? `${error.code}/${error.reason ?? ''}` : String(error),
    );

  /** Members of a consumer group and the partitions each holds. */
  async function groupShares(group: string): Promise<number[]> {
    const { groups } = await admin.describeGroups([group]);
    return (groups[0]?.members ?? []).map((member) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.values(decoded?.assignment ?? {}).reduce((n, parts) => n + parts.length, 0);
    });
  }

  /** A citizen with one beneficiary and its secret code; a vaccinator's consent grant for it. */
  async function beneficiaryWithConsent(vaccinatorSession: string) {
    const mobile = world.freshMobile();
    const citizen = await world.citizen(mobile);
    const { beneficiary, secretCode } = await world.clients.identity.call(
      'registerBeneficiary',
      {
        mobile,
        name: 'Two Instances',
        gender: identityV1.Gender.GENDER_FEMALE,
        yearOfBirth: 1980,
        photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
        photoIdNumber: world.freshAadhaar(),
      },
      callAs(citizen),
    );
    const beneficiaryRef = beneficiary?.beneficiaryRef ?? '';
    const { token } = await world.clients.identity.call(
      'verifySecretCode',
      { beneficiaryRef, secretCode },
      callAs(vaccinatorSession),
    );
    world.raw.tokens.add(token);
    return { beneficiaryRef, grant: token };
  }

  const doseRequest = (beneficiaryRef: string, grant: string, clientRequestId: string) => ({
    beneficiaryRef,
    vaccineCode: 'COVISHIELD',
    doseNumber: 1,
    batchNumber: 'CS21044',
    administeredOn: indianToday(),
    clientRequestId,
    consentGrant: grant,
  });

  it('runs every service twice, each instance in its consumer groups, and balances calls over both', async () => {
    for (const service of ['otp', 'identity', 'vaccination-record', 'audit'] as const) {
      expect([service, world.platform.instancesOf(service).length]).toEqual([service, INSTANCES]);
      expect(world.platform.address(service).split(',')).toHaveLength(INSTANCES);
    }
    // Both instances of each work-sharing consumer hold partitions.
    for (const group of [...AUDIT_GROUPS, 'vaccination-record-centres']) {
      await eventually(
        async () => {
          const shares = await groupShares(group);
          expect([group, shares.length, shares.every((n) => n > 0)]).toEqual([group, 2, true]);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
  });

  it('the audit log, appended to by both audit instances at once, never forks: every event once, every checkpoint consistent with the next', async () => {
    // A burst over many subjects, so over all six partitions and both instances.
    const run = randomBytes(4).toString('hex');
    const events = Array.from({ length: BURST }, (_, i) =>
      buildEvent(EVENTS.accessGranted, {
        actor: {
          kind: ActorKind.ACTOR_KIND_SERVICE,
          principalId: 'svc-burst',
          clientId: 'svc-burst',
        },
        subject: {
          kind: SubjectKind.SUBJECT_KIND_BENEFICIARY,
          ref: `bnf_${run}${String(i).padStart(22, '0')}`,
        },
        payload: {
          method: '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
          basis: 'OWNER',
          grantId: '',
        },
        occurredAt: new Date(),
      }),
    );
    await producer.send({
      topic: EVENTS.accessGranted.topic,
      messages: events.map((event) => ({ key: event.key, value: encodeEnvelope(event.envelope) })),
    });
    const ids = events.map((event) => event.envelope.eventId);
    const entriesOf = async () =>
      (
        await audit.query<{ event_id: string; n: number }>(
          `SELECT event_id::text, count(*)::int AS n FROM audit_log_entries
            WHERE event_id = ANY($1::uuid[]) GROUP BY event_id`,
          [ids],
        )
      ).rows;
    await eventually(async () => expect((await entriesOf()).length).toBe(BURST), {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    // Each event once, though both instances appended.
    expect((await entriesOf()).filter((row) => row.n !== 1)).toEqual([]);
    // Every checkpoint signed so far is consistent with the next, by the log's own proofs.
    const { rows: checkpoints } = await audit.query<{ tree_size: string; root_hash: Buffer }>(
      'SELECT tree_size, root_hash FROM audit_checkpoints ORDER BY tree_size',
    );
    expect(checkpoints.length).toBeGreaterThan(1);
    // Through the balanced client: either instance answers each call.
    const auditClient = world.clients.audit;
    const auditor = await world.staff(AUDITOR);
    for (let i = 1; i < checkpoints.length; i++) {
      const older = checkpoints[i - 1] as { tree_size: string; root_hash: Buffer };
      const newer = checkpoints[i] as { tree_size: string; root_hash: Buffer };
      if (Number(older.tree_size) === 0) continue;
      const { hashes } = await auditClient.call(
        'getConsistencyProof',
        { oldSize: older.tree_size, newSize: newer.tree_size },
        callAs(auditor.session, true),
      );
      expect([
        older.tree_size,
        newer.tree_size,
        verifyConsistency(
          Number(older.tree_size),
          Number(newer.tree_size),
          hashes,
          older.root_hash,
          newer.root_hash,
        ),
      ]).toEqual([older.tree_size, newer.tree_size, true]);
    }
    // And the whole log verifies as an outside auditor checks it (`vaxguard audit check`).
    const verdict = await verifyAuditLog({
      source: grpcAuditLogSource(auditClient, (use) => use(auditor.session)),
      verifierKey: world.platform.description.auditLog.verifierKey,
      full: true,
    });
    expect(verdict.outcome).toBe('verified');
  }, 180_000);

  it('OTP: exactly the per-mobile quota of codes is sent across both instances, the rest RESOURCE_EXHAUSTED', async () => {
    const otps = perInstance(otpV1.OtpServiceService, 'otp');
    const mobile = world.freshMobile();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        outcome(
          (otps[i % otps.length] as (typeof otps)[number]).call(
            'generateOtp',
            { mobile, purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN, onBehalfOfClientId: '' },
            callAs(),
          ),
        ),
      ),
    );
    expect(answers.filter((answer) => answer === 'ok')).toHaveLength(5);
    expect(answers.filter((answer) => answer !== 'ok')).toEqual(
      Array(3).fill('RESOURCE_EXHAUSTED/MOBILE_QUOTA_15M'),
    );
  });

  it('RecordDose: the same client_request_id sent to both instances at once is one dose', async () => {
    const vaccinator = await world.staff(VACCINATOR, await world.centre());
    const { beneficiaryRef, grant } = await beneficiaryWithConsent(vaccinator.session);
    const recordsClients = perInstance(
      vaccinationRecordV1.VaccinationRecordServiceService,
      'vaccination-record',
    );
    const clientRequestId = `two-of-each-${randomBytes(6).toString('hex')}`;
    const answers = await Promise.all(
      recordsClients.map((client) =>
        client.call(
          'recordDose',
          doseRequest(beneficiaryRef, grant, clientRequestId),
          callAs(vaccinator.session),
        ),
      ),
    );
    const doseIds = new Set(answers.map((answer) => answer.dose?.doseId));
    expect(doseIds.size).toBe(1);
    expect(answers.filter((answer) => answer.replayed)).toHaveLength(1);
    const { rows } = await records.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM doses WHERE client_request_id = $1 OR beneficiary_ref = $2',
      [clientRequestId, beneficiaryRef],
    );
    expect(rows[0]?.n).toBe(1);
  });

  it('the per-staff quota holds at its edge across both instances: exactly the beneficiaries left are admitted', async () => {
    const vaccinator = await world.staff(VACCINATOR, await world.centre());
    const family = [];
    for (let i = 0; i < 4; i++) family.push(await beneficiaryWithConsent(vaccinator.session));
    // The hour's quota used but for two (STAFF_BENEFICIARIES_PER_HOUR in the chaos world),
    // as if the vaccinator had already seen that many people this hour. The window is the
    // clock hour: a test that starts in its last minute waits for the next.
    const limit = Number(CHAOS_PLATFORM_ENV['vaccination-record'].STAFF_BENEFICIARIES_PER_HOUR);
    const hourMs = 3_600_000;
    if (Date.now() % hourMs > hourMs - 60_000) {
      await new Promise((resolve) => setTimeout(resolve, hourMs - (Date.now() % hourMs) + 1_000));
    }
    const windowStart = new Date(Math.floor(Date.now() / hourMs) * hourMs);
    await records.query(
      `INSERT INTO staff_quota (staff_id, window_start, beneficiary_ref)
       SELECT $1, $2, 'bnf_seen_' || n FROM generate_series(1, $3::int) AS n`,
      [vaccinator.id, windowStart, limit - 2],
    );
    const recordsClients = perInstance(
      vaccinationRecordV1.VaccinationRecordServiceService,
      'vaccination-record',
    );
    const answers = await Promise.all(
      family.map(({ beneficiaryRef, grant }, i) =>
        outcome(
          (recordsClients[i % recordsClients.length] as (typeof recordsClients)[number]).call(
            'recordDose',
            doseRequest(beneficiaryRef, grant, `quota-${randomBytes(6).toString('hex')}`),
            callAs(vaccinator.session),
          ),
        ),
      ),
    );
    expect(answers.filter((answer) => answer === 'ok')).toHaveLength(2);
    expect(answers.filter((answer) => answer !== 'ok')).toEqual(
      Array(2).fill('RESOURCE_EXHAUSTED/STAFF_QUOTA'),
    );
  });

  it('an anomaly rule (password spraying) is raised once, not once per audit instance', async () => {
    const sprayer = world.configuredClients['login-sprayer'];
    if (!sprayer) throw new Error('no sprayer client');
    const identities = perInstance(identityV1.IdentityServiceService, 'identity', sprayer);
    // One password at 21 usernames from one client, spread over both identity instances:
    // each try, refused either way, is a staff_login.failed event, keyed by its username
    // (so on partitions both audit instances read) and counted by the spraying rule (> 20).
    const run = randomBytes(3).toString('hex');
    const answers = await Promise.all(
      Array.from({ length: 21 }, (_, i) =>
        outcome(
          (identities[i % identities.length] as (typeof identities)[number]).call(
            'startStaffLogin',
            { username: `sprayed.${run}.${i}`, password: 'Spring2026 common passphrase' },
            callAs(),
          ),
        ),
      ),
    );
    expect(
      answers.filter(
        (answer) =>
          answer !== 'UNAUTHENTICATED/BAD_LOGIN' &&
          answer !== 'RESOURCE_EXHAUSTED/STAFF_LOGIN_RATE',
      ),
    ).toEqual([]);
    const auditor = await world.staff(AUDITOR);
    const alertsAbout = async () =>
      (
        await world.clients.audit.call(
          'listAlerts',
          { pageSize: 100, pageToken: '', unacknowledgedOnly: false },
          callAs(auditor.session, true),
        )
      ).alerts.filter(
        (record) =>
          record.alert?.principalId === sprayer.clientId &&
          record.alert.rule === 'STAFF_LOGIN_SPRAYING',
      );
    await eventually(async () => expect((await alertsAbout()).length).toBeGreaterThan(0), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    // Once both instances have read everything the anomaly group was sent: still one.
    await eventually(async () => expect(await groupLag('audit-anomalies')).toBe(0), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    expect(await alertsAbout()).toHaveLength(1);
  });

  /** Messages of every topic the group reads that it has not committed yet. */
  async function groupLag(group: string): Promise<number> {
    const committed = await admin.fetchOffsets({ groupId: group });
    let lag = 0;
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const { partition, offset } of partitions) {
        const end = ends.find((entry) => entry.partition === partition);
        lag += Math.max(0, Number(end?.high ?? 0) - Math.max(0, Number(offset)));
      }
    }
    return lag;
  }

  it(`one audit and one vaccination-record instance killed with SIGKILL under load: nothing acknowledged lost or doubled, the survivors take over their partitions`, async () => {
    const victims = (['audit', 'vaccination-record'] as const).map(
      (service) => [service, world.platform.instancesOf(service)[1] as ServiceProcess] as const,
    );
    const result = await runScenario(world, {
      scenario: 'two of each, one audit and one records instance SIGKILLed',
      inject: async () => {
        for (const [, victim] of victims) await victim.stop('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, CHAOS_FORM.outageMs));
      },
    });
    results.push(result);
    // The survivor is the only member of each group: it holds every partition (and the
    // checks above found every acknowledged action in the log, so it read them).
    for (const group of [...AUDIT_GROUPS, 'vaccination-record-centres']) {
      await eventually(
        async () => {
          const shares = await groupShares(group);
          expect([group, shares.length]).toEqual([group, 1]);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    }
    expect(result.problems).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(CHAOS_FORM.warmupCalls);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
  }, 600_000);
});
