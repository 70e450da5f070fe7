// `npm run bench`, vaccination-record: RecordDose sustained through the whole path, measured
// against the bare grpc-js unary echo served from its own process in the same run.
// Real PostgreSQL and Kafka (Testcontainers); the built OTP, identity and
// vaccination-record services as their own processes. Every RecordDose is a real first
// dose for a beneficiary registered beforehand through identity, under a consent grant
// from an OTP the bench read from the development SMS inbox, and looked up by its
// vaccinator first (FindBeneficiaryForVaccination), as at a centre: vaccination-record
// checks the staff session and the grant, then records the dose, its dose.recorded and
// record.accessed events in the outbox, in one transaction, with the beneficiary's year
// of birth read from its own copy (issue 17: no call to identity on the way); the relay
// sends them to Kafka, where the bench counts the dose.recorded events as they arrive.
// Prints figures, asserts nothing: these machines are shared and noisy.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type Metadata } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { EVENTS } from '@vaxguard/event-catalogue';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { eventsV1, identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import {
  eventually,
  hashStaffPasswordWithIdentity,
  madeUpAadhaar,
  spawnService,
  startKafka,
  startPostgres,
  testClient,
} from '@vaxguard/testing';
import { SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { benchLimits, runBenchmark, startEcho, startRelayedEcho, startSignedEcho } from './harness';
import { formatResult, runLoad, type LoadResult } from './load';

const LIMITS = benchLimits();
/**
 * The issue's goals: 1,000 doses/s closed-loop, and p99 under 50 ms when paced at half of
 * the closed loop's own rate (BENCH_PACED_RATE to fix the rate instead).
 */
const GOAL_PER_SECOND = 1_000;
const FIXED_PACED_RATE = process.env['BENCH_PACED_RATE']
  ? Number(process.env['BENCH_PACED_RATE'])
  : undefined;
const PACED_PER_SECOND = FIXED_PACED_RATE ?? GOAL_PER_SECOND / 2;
// Node options for the vaccination-record process alone, to profile it (as the identity
// bench's BENCH_IDENTITY_NODE_OPTIONS).
const RECORDS_NODE_OPTIONS = process.env['BENCH_RECORDS_NODE_OPTIONS'];
const IDENTITY_NODE_OPTIONS = process.env['BENCH_IDENTITY_NODE_OPTIONS'];
// Another build of vaccination-record to measure instead of the tree's (a copy of an
// earlier dist/main.js, to compare before and after a change in one run style).
const RECORDS_ENTRY =
  process.env['BENCH_RECORDS_ENTRY'] ?? 'services/vaccination-record/dist/main.js';
const CENTRES = 4;
/** Identity's limit of beneficiaries on one mobile; one consent grant covers them all. */
const BENEFICIARIES_PER_MOBILE = 4;
const WARM_UP_CALLS = 200;
// Creating a staff member and signing one in each hash a password (memory-hard, on
// identity's thread pool): a few at a time, or identity's database connections time out
// waiting behind them on a busy machine.
const STAFF_SETUP_CONCURRENCY = 4;
// Enough first doses to hold the goal rate for a whole closed-loop phase, and the paced rate
// for a whole paced phase.
const DOSES =
  WARM_UP_CALLS +
  Math.min(LIMITS.maxCalls, GOAL_PER_SECOND * LIMITS.maxSeconds) +
  Math.min(LIMITS.maxCalls, PACED_PER_SECOND * LIMITS.maxSeconds);
const MOBILES = Math.ceil(DOSES / BENEFICIARIES_PER_MOBILE);
/** Identity lets a staff member ask at most 10 people for consent a minute. */
const CONSENT_REQUESTS_PER_VACCINATOR_MINUTE = 10;
// Enough vaccinators for every mobile's consent within the minute, and one per caller.
const VACCINATORS = Number(
  process.env['BENCH_VACCINATORS'] ??
    Math.max(LIMITS.concurrency, Math.ceil(MOBILES / CONSENT_REQUESTS_PER_VACCINATOR_MINUTE)),
);
// A phase must end before the consent grants it uses expire; leave a margin.
const GRANT_MARGIN_MS = 20_000;
const RELAY_TIMEOUT_MS = 60_000;
const CLOCK_TICKS_PER_SECOND = 100;
const IST_OFFSET_MS = 5.5 * 3_600_000;

function key(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Runs `task` over `items`, at most `concurrency` at a time; the first failure fails it,
 * named after `what`.
 */
async function inParallel<T, R>(
  what: string,
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } catch (error) {
    throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return results;
}

/** CPU seconds a process has used so far (Linux /proc), or undefined elsewhere. */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name: state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine has spent busy so far (every process, the kernel). */
function machineBusySeconds(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    const ticks = cpu.map(Number);
    const busy =
      ticks.slice(0, 8).reduce((total, value) => total + value, 0) - ticks[3]! - ticks[4]!;
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Each process's CPU over a phase, as a share of one core, and the whole machine's CPU
 * per call (PostgreSQL, Kafka and the kernel included): the figure a rate goal is made of.
 */
function cpuMeter(processes: Record<string, number | undefined>): (calls: number) => string {
  const pids = Object.entries(processes);
  const before = pids.map(([, pid]) => cpuSecondsOf(pid));
  const machineBefore = machineBusySeconds();
  const benchBefore = process.cpuUsage();
  const start = performance.now();
  return (calls) => {
    const seconds = (performance.now() - start) / 1000;
    const share = (used: number) => `${((used / seconds) * 100).toFixed(0)}%`;
    const bench = process.cpuUsage(benchBefore);
    const parts = pids.map(([name, pid], i) => {
      const now = cpuSecondsOf(pid);
      const then = before[i];
      return `${name} ${now === undefined || then === undefined ? '?' : share(now - then)}`;
    });
    const benchSeconds = (bench.user + bench.system) / 1e6;
    parts.push(`bench ${share(benchSeconds)}`);
    const machineNow = machineBusySeconds();
    const machine =
      machineNow === undefined || machineBefore === undefined || calls === 0
        ? ''
        : `; machine ${share(machineNow - machineBefore)} of ${availableParallelism() * 100}%, ${(
            ((machineNow - machineBefore) / calls) *
            1000
          ).toFixed(2)} ms of CPU per call`;
    // Where a call's CPU went: each process, then the rest of the machine (PostgreSQL,
    // Kafka, the kernel, and whatever else ran on it meanwhile).
    const perCall = (used: number) => `${((used / Math.max(calls, 1)) * 1000).toFixed(2)} ms`;
    const spent = pids.map(([, pid], i) => {
      const now = cpuSecondsOf(pid);
      const then = before[i];
      return now === undefined || then === undefined ? undefined : now - then;
    });
    const breakdown = pids.map(([name], i) => {
      const used = spent[i];
      return `${name} ${used === undefined ? '?' : perCall(used)}`;
    });
    breakdown.push(`bench client ${perCall(benchSeconds)}`);
    if (machineNow !== undefined && machineBefore !== undefined) {
      const known = spent.reduce<number>((total, used) => total + (used ?? 0), benchSeconds);
      breakdown.push(
        `rest (PostgreSQL, Kafka, kernel) ${perCall(machineNow - machineBefore - known)}`,
      );
    }
    return [
      `  CPU (one core = 100%): ${parts.join(', ')}${machine}`,
      `  CPU per call: ${breakdown.join(', ')}`,
    ].join('\n');
  };
}

/** Counts the dose.recorded events reaching Kafka, and when the latest arrived. */
async function startDoseCounter(brokers: readonly string[]) {
  const kafka = new Kafka({
    clientId: 'bench-dose-counter',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: `bench-dose-counter-${randomUUID()}` });
  const counter = { seen: 0, lastAt: 0 };
  await consumer.connect();
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.subscribe({ topics: [EVENTS.doseRecorded.topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      if (eventsV1.EventEnvelope.decode(message.value).type !== EVENTS.doseRecorded.name) return;
      counter.seen++;
      counter.lastAt = performance.now();
    },
  });
  await joined;
  return { counter, [Symbol.asyncDispose]: () => consumer.disconnect() };
}

/** One first dose to record: the beneficiary, and which vaccinator holds the grant for them. */
interface PreparedDose {
  readonly beneficiaryRef: string;
  readonly mobileIndex: number;
}

async function main(): Promise<void> {
  process.stdout.write(
    `Vaccination-record benchmark: concurrency ${LIMITS.concurrency}, at most ${LIMITS.maxSeconds} s or ${LIMITS.maxCalls} calls per phase; ` +
      `${DOSES} beneficiaries on ${MOBILES} mobiles, ${VACCINATORS} vaccinators\n`,
  );
  const t0 = performance.now();
  const say = (line: string) =>
    process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
  await using postgres = await startPostgres();
  await using kafka = await startKafka();
  const scratch = mkdtempSync(join(tmpdir(), 'vaxguard-bench-'));
  const sink = join(scratch, 'sms.jsonl');
  // Citizens sign in and register on one app, staff work on another: a token is accepted
  // only from the client it was issued to.
  const citizenApp = testClient('bench-citizen-app');
  const staffApp = testClient('bench-vaccinator-app');
  const identitySvc = testClient('svc-identity');
  const recordSvc = testClient('svc-vaccination-record');
  const apps = `${citizenApp.credential},${staffApp.credential}`;
  const mobileIndexKey = key();
  const admin = {
    username: 'bench.admin',
    mobile: '8800000000',
    password: randomBytes(18).toString('base64url'),
  };
  // What each service logged (warnings and errors), shown when the benchmark fails.
  const serviceLogs: Record<string, () => string> = {};
  try {
    const [otpDb, identityDb, recordDb] = await Promise.all([
      postgres.createDatabase(),
      postgres.createDatabase(),
      postgres.createDatabase(),
    ]);
    const common = {
      // At least the bench's concurrency: a caller waiting for a connection waits for
      // another's whole transaction.
      DATABASE_POOL_SIZE: process.env['BENCH_DATABASE_POOL_SIZE'] ?? '40',
      KAFKA_BROKERS: kafka.brokers.join(','),
      LOG_LEVEL: 'warn',
    };
    await using otp = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        ...common,
        DATABASE_URL: otpDb,
        CLIENT_CREDENTIALS: `${apps},${recordSvc.credential},${identitySvc.credential}:${SERVICE_SCOPES.onBehalf}+${SERVICE_SCOPES.issueConsent}`,
        OTP_HASH_KEY: key(),
        MOBILE_INDEX_KEY: mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: key(),
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: sink,
        // Thousands of sign-ins and consents from two apps within a minute.
        OTP_CLIENT_QUOTA_PER_MINUTE: '1000000',
      },
    });
    await using identity = await spawnService({
      entry: 'services/identity/dist/main.js',
      env: {
        ...common,
        DATABASE_URL: identityDb,
        // vaccination-record relays the vaccinator's grant to read the beneficiary.
        CLIENT_CREDENTIALS: `${apps},${recordSvc.credential}:${SERVICE_SCOPES.relayTokens}+beneficiary:demographics`,
        PLATFORM_ADMIN_BOOTSTRAP: `${admin.username}:${admin.mobile}:${await hashStaffPasswordWithIdentity(admin.password)}`,
        OTP_GRPC_ADDRESS: otp.address,
        SERVICE_CLIENT_ID: identitySvc.clientId,
        SERVICE_CLIENT_SECRET: identitySvc.secret,
        MOBILE_INDEX_KEY: mobileIndexKey,
        DOCUMENT_INDEX_KEY: key(),
        SECRET_CODE_KEY: key(),
        IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key()}`,
        ...(IDENTITY_NODE_OPTIONS ? { NODE_OPTIONS: IDENTITY_NODE_OPTIONS } : {}),
      },
    });
    await using records = await spawnService({
      entry: RECORDS_ENTRY,
      env: {
        ...common,
        DATABASE_URL: recordDb,
        CLIENT_CREDENTIALS: apps,
        OTP_GRPC_ADDRESS: otp.address,
        IDENTITY_GRPC_ADDRESS: identity.address,
        SERVICE_CLIENT_ID: recordSvc.clientId,
        SERVICE_CLIENT_SECRET: recordSvc.secret,
        ISSUER_URL: 'https://vaxguard.example/vaccination-record',
        ISSUER_KEY_ENCRYPTION_KEY: key(),
        // Each vaccinator records hundreds of beneficiaries within the hour.
        STAFF_BENEFICIARIES_PER_HOUR: '10000',
        ...(RECORDS_NODE_OPTIONS ? { NODE_OPTIONS: RECORDS_NODE_OPTIONS } : {}),
      },
    });
    serviceLogs['otp'] = () => otp.output();
    serviceLogs['identity'] = () => identity.output();
    serviceLogs['vaccination-record'] = () => records.output();
    await using echo = await startEcho();
    await using relayed = await startRelayedEcho();
    await using signedEcho = await startSignedEcho();
    await using doses = await startDoseCounter(kafka.brokers);
    say('services up');

    const insecure = credentials.createInsecure();
    const otpClient = new otpV1.OtpServiceClient(otp.address, insecure);
    const identityClient = new identityV1.IdentityServiceClient(identity.address, insecure);
    const recordClient = new vaccinationRecordV1.VaccinationRecordServiceClient(
      records.address,
      insecure,
    );
    const as = (app: { clientId: string; secret: string }, token?: string): Metadata => {
      const metadata = clientMetadata(app.clientId, app.secret);
      if (token) metadata.set(TOKEN_HEADER, token);
      return metadata;
    };
    const citizenMd = as(citizenApp);
    const staffMd = as(staffApp);

    /** The codes the OTP service wrote to the inbox for these transactions, read in one pass. */
    const codesFor = (txnIds: readonly string[]) =>
      eventually(async () => {
        const codes = new Map((await readAllDevSms(sink)).map((sms) => [sms.txnId, sms.code]));
        const missing = txnIds.filter((txnId) => !codes.has(txnId)).length;
        if (missing > 0) throw new Error(`${missing} codes not in the SMS inbox yet`);
        return codes;
      });
    /** Confirms OTP transactions as `app`, each with its code from the inbox. */
    const confirmAll = async (txnIds: readonly string[], metadata: Metadata) => {
      const codes = await codesFor(txnIds);
      return inParallel('ConfirmOtp', txnIds, LIMITS.concurrency, (txnId) =>
        unaryCall<otpV1.ConfirmOtpResponse>((done) =>
          otpClient.confirmOtp({ txnId, otp: codes.get(txnId) ?? '' }, metadata, done),
        ),
      );
    };
    const staffSessions = async (staff: readonly { username: string; password: string }[]) => {
      const started = await inParallel('staff sign-in', staff, STAFF_SETUP_CONCURRENCY, (member) =>
        unaryCall<identityV1.StartStaffLoginResponse>((done) =>
          identityClient.startStaffLogin(member, staffMd, done),
        ),
      );
      const confirmed = await confirmAll(
        started.map(({ txnId }) => txnId),
        staffMd,
      );
      return confirmed.map(({ token }) => token);
    };

    // ---- Staff: the bootstrapped platform admin creates centres and vaccinators --------
    const [adminToken = ''] = await staffSessions([admin]);
    const centres = await inParallel(
      'CreateCentre',
      Array.from({ length: CENTRES }, (_, i) => i),
      CENTRES,
      async (i) => {
        const { centre } = await unaryCall<identityV1.CreateCentreResponse>((done) =>
          identityClient.createCentre(
            { name: `Bench PHC ${i + 1}`, district: 'Pune', state: 'Maharashtra' },
            as(staffApp, adminToken),
            done,
          ),
        );
        return centre?.centreId ?? '';
      },
    );
    const vaccinators = Array.from({ length: VACCINATORS }, (_, i) => ({
      username: `vaccinator.${i}`,
      password: randomBytes(18).toString('base64url'),
    }));
    await inParallel('CreateStaff', vaccinators, STAFF_SETUP_CONCURRENCY, (member, i) =>
      unaryCall((done) =>
        identityClient.createStaff(
          {
            username: member.username,
            displayName: `Vaccinator ${i + 1}`,
            role: identityStaffV1.StaffRole.STAFF_ROLE_VACCINATOR,
            centreId: centres[i % CENTRES] ?? '',
            mobile: `88${String(10_000_000 + i)}`,
            password: member.password,
          },
          as(staffApp, adminToken),
          done,
        ),
      ),
    );
    const vaccinatorMd = (await staffSessions(vaccinators)).map((token) => as(staffApp, token));
    say(`${VACCINATORS} vaccinators signed in at ${CENTRES} centres`);

    // ---- Citizens: a sign-in per mobile, then up to four beneficiaries on each ---------
    const mobiles = Array.from({ length: MOBILES }, (_, i) => `9${String(600_000_000 + i)}`);
    const logins = await inParallel('citizen GenerateOtp', mobiles, LIMITS.concurrency, (mobile) =>
      unaryCall<otpV1.GenerateOtpResponse>((done) =>
        otpClient.generateOtp(
          {
            mobile,
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
            consent: undefined,
            onBehalfOfClientId: '',
          },
          citizenMd,
          done,
        ),
      ),
    );
    const citizenTokens = await confirmAll(
      logins.map(({ txnId }) => txnId),
      citizenMd,
    );
    say(`${MOBILES} citizens signed in`);
    const registrations = Array.from({ length: DOSES }, (_, n) => ({
      // Slot-major order: consecutive doses belong to different mobiles, hence to
      // different vaccinators.
      mobileIndex: n % MOBILES,
      slot: Math.floor(n / MOBILES),
      n,
    }));
    const prepared: PreparedDose[] = await inParallel(
      'RegisterBeneficiary',
      registrations,
      LIMITS.concurrency,
      async ({ mobileIndex, slot, n }) => {
        const { beneficiary } = await unaryCall<identityV1.RegisterBeneficiaryResponse>((done) =>
          identityClient.registerBeneficiary(
            {
              mobile: mobiles[mobileIndex] ?? '',
              name: `Asha Devi ${'ABCD'[slot] ?? ''}`,
              gender: identityV1.Gender.GENDER_FEMALE,
              yearOfBirth: 1961 + slot,
              photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
              photoIdNumber: madeUpAadhaar(n),
            },
            as(citizenApp, citizenTokens[mobileIndex]?.token),
            done,
          ),
        );
        return { beneficiaryRef: beneficiary?.beneficiaryRef ?? '', mobileIndex };
      },
    );
    say(`${DOSES} beneficiaries registered`);

    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => echo.call() });
    const baselineCpu = cpuMeter({ echo: echo.pids[0] });
    const baseline = await runLoad({ ...LIMITS, call: () => echo.call() });
    const baselineCpuLine = baselineCpu(baseline.calls);
    // The floor: what two services relaying a call, each checking a signature, cost alone.
    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => relayed.call() });
    const floorCpu = cpuMeter({ hop: relayed.pids[0], echo: relayed.pids[1] });
    const floor = await runLoad({ ...LIMITS, call: () => relayed.call() });
    const floorCpuLine = floorCpu(floor.calls);
    // The new design's floor (issue 17): one service, one signature checked.
    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: () => signedEcho.call() });
    const oneHopCpu = cpuMeter({ echo: signedEcho.pids[0] });
    const oneHop = await runLoad({ ...LIMITS, call: () => signedEcho.call() });
    const oneHopCpuLine = oneHopCpu(oneHop.calls);

    // ---- Consent: each mobile's grant to its vaccinator, then measure at once ----------
    const consentStarted = performance.now();
    const vaccinatorOf = (mobileIndex: number) => mobileIndex % VACCINATORS;
    const consentTxns = await inParallel(
      'RequestConsent',
      mobiles,
      LIMITS.concurrency,
      (mobile, mobileIndex) =>
        unaryCall<identityV1.RequestConsentResponse>((done) =>
          identityClient.requestConsent(
            { target: { $case: 'mobile', value: mobile } },
            vaccinatorMd[vaccinatorOf(mobileIndex)] ?? staffMd,
            done,
          ),
        ),
    );
    const grants = await confirmAll(
      consentTxns.map(({ txnId }) => txnId),
      staffMd,
    );
    const grantsExpireAt = Math.min(
      ...grants.map(({ claims }) => claims?.expiresAt?.getTime() ?? Date.now()),
    );
    say(
      `${MOBILES} consent grants in ${((performance.now() - consentStarted) / 1000).toFixed(1)} s`,
    );
    // Each vaccinator looks up the beneficiaries of the mobiles that consented to them,
    // as at a centre before the dose; counted in the staff quota like any look-up.
    const lookupStarted = performance.now();
    await inParallel('FindBeneficiaryForVaccination', grants, LIMITS.concurrency, (grant, i) =>
      unaryCall<vaccinationRecordV1.FindBeneficiaryForVaccinationResponse>((done) =>
        recordClient.findBeneficiaryForVaccination(
          { consentGrant: grant.token },
          vaccinatorMd[vaccinatorOf(i)] ?? staffMd,
          done,
        ),
      ),
    );
    say(`${MOBILES} look-ups in ${((performance.now() - lookupStarted) / 1000).toFixed(1)} s`);
    const secondsLeft = () =>
      Math.min(LIMITS.maxSeconds, (grantsExpireAt - Date.now() - GRANT_MARGIN_MS) / 1000);

    // Every call records the next prepared first dose; none is recorded twice.
    let nextDose = 0;
    let recorded = 0;
    let firstError: string | undefined;
    const today = new Date(Date.now() + IST_OFFSET_MS).toISOString().slice(0, 10);
    const recordDose = async () => {
      const dose = prepared[nextDose++];
      if (!dose) throw new Error('no prepared dose left');
      try {
        await unaryCall<vaccinationRecordV1.RecordDoseResponse>((done) =>
          recordClient.recordDose(
            {
              beneficiaryRef: dose.beneficiaryRef,
              vaccineCode: 'COVISHIELD',
              doseNumber: 1,
              batchNumber: 'BENCH0001',
              administeredOn: today,
              clientRequestId: `bench-${randomUUID()}`,
              consentGrant: grants[dose.mobileIndex]?.token ?? '',
            },
            vaccinatorMd[vaccinatorOf(dose.mobileIndex)] ?? staffMd,
            done,
          ),
        );
        recorded++;
      } catch (error) {
        firstError ??= error instanceof Error ? error.message : String(error);
        throw error;
      }
    };
    const dosesLeft = () => prepared.length - nextDose;

    /** How long after a phase ended the relay had every dose it recorded on Kafka. */
    const relayDrain = async (endedAt: number): Promise<string> => {
      const backlog = recorded - doses.counter.seen;
      await eventually(
        () => {
          if (doses.counter.seen < recorded)
            throw new Error(`${doses.counter.seen} of ${recorded} dose.recorded events on Kafka`);
        },
        { timeoutMs: RELAY_TIMEOUT_MS, intervalMs: 10 },
      );
      const after = Math.max(0, doses.counter.lastAt - endedAt);
      return `  relay: ${backlog} of ${recorded} dose.recorded events not yet on Kafka when the phase ended; all ${doses.counter.seen} there ${after.toFixed(0)} ms after it ended`;
    };

    const processes = {
      'vaccination-record': records.child.pid,
      identity: identity.child.pid,
      otp: otp.child.pid,
    };
    const measure = async (
      name: string,
      options: { maxCalls: number; ratePerSecond?: number },
    ): Promise<{ result: LoadResult; lines: string[] }> => {
      const maxCalls = Math.min(options.maxCalls, dosesLeft());
      const cpu = cpuMeter(processes);
      const result = await runLoad({
        ...LIMITS,
        ...options,
        maxCalls,
        maxSeconds: secondsLeft(),
        call: recordDose,
      });
      const endedAt = performance.now();
      const cpuLine = cpu(result.calls);
      const capped =
        result.calls + result.errors >= maxCalls && result.seconds < secondsLeft()
          ? [
              `  capped at ${maxCalls} calls: the prepared beneficiaries ran out before the time did`,
            ]
          : [];
      say(`${name} done`);
      return {
        result,
        lines: [
          formatResult(name, result, baseline),
          `  ${(result.perSecond / oneHop.perSecond).toFixed(3)} x the one-hop floor, ${(result.perSecond / floor.perSecond).toFixed(3)} x the relayed floor`,
          ...capped,
          cpuLine,
          await relayDrain(endedAt),
        ],
      };
    };

    await runLoad({ ...LIMITS, maxCalls: WARM_UP_CALLS, call: recordDose });
    await relayDrain(performance.now());
    const closed = await measure('vaccination-record RecordDose', { maxCalls: LIMITS.maxCalls });
    const pacedRate = FIXED_PACED_RATE ?? Math.max(1, Math.round(closed.result.perSecond / 2));
    const paced = await measure(`RecordDose paced at ${pacedRate}/s`, {
      maxCalls: LIMITS.maxCalls,
      ratePerSecond: pacedRate,
    });
    otpClient.close();
    identityClient.close();
    recordClient.close();

    process.stdout.write(
      [
        '',
        formatResult('baseline: bare grpc-js unary echo', baseline),
        baselineCpuLine,
        formatResult('floor: relayed echo, 2 signatures', floor, baseline),
        floorCpuLine,
        formatResult('floor: one hop, 1 signature', oneHop, baseline),
        oneHopCpuLine,
        ...closed.lines,
        ...paced.lines,
        ...(firstError ? [`  first error: ${firstError}`] : []),
        ...refusalLines(serviceLogs),
        '',
        `Goal: ${GOAL_PER_SECOND} doses/s (got ${closed.result.perSecond.toFixed(0)}), ≥ 0.25 x the echo (got ${(closed.result.perSecond / baseline.perSecond).toFixed(3)}), and p99 under 50 ms at half of it, ${pacedRate}/s (got ${paced.result.p99Ms.toFixed(1)} ms).`,
        'Each RecordDose: the staff session and consent grant verified, then one transaction',
        'with the beneficiary’s year of birth read from the service’s own copy (filled by the',
        'look-up before; identity asked only for a beneficiary not looked up): the quota, the',
        'dose, its dose.recorded and record.accessed events in the outbox; the relay sends',
        'them to Kafka. Each call is a new first dose.',
        'The one-hop floor is the least of that: client → echo over gRPC, the server checking',
        'an Ed25519 signature over a 700-byte request first, nothing else. The relayed floor',
        '(client → hop → echo, two checks) was the design before issue 17.',
        'Reference (issue 8): CoWIN’s national peak was about 700 doses/s.',
        '',
      ].join('\n'),
    );
  } catch (error) {
    for (const [name, output] of Object.entries(serviceLogs)) {
      process.stderr.write(`--- ${name} (last lines) ---\n${output().slice(-3_000)}\n`);
    }
    throw error;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The calls each service refused or failed during the run, by method and code, from its
 * own log: a retried call between services is invisible in the bench's own counts.
 */
function refusalLines(serviceLogs: Record<string, () => string>): string[] {
  const lines: string[] = [];
  for (const [name, output] of Object.entries(serviceLogs)) {
    const counts = new Map<string, number>();
    for (const line of output().split('\n')) {
      if (!line.includes('"msg":"call refused"') && !line.includes('"msg":"unexpected error"')) {
        continue;
      }
      try {
        const entry = JSON.parse(line) as { method?: string; code?: string; msg: string };
        const what = `${entry.method ?? '?'} ${entry.code ?? entry.msg}`;
        counts.set(what, (counts.get(what) ?? 0) + 1);
      } catch {
        // Not a log entry of ours.
      }
    }
    for (const [what, count] of counts)
      lines.push(`  ${name} refused or failed: ${what} ×${count}`);
  }
  return lines;
}

runBenchmark(main);
