// The RecordDose benchmarks' platform: real PostgreSQL and Kafka (Testcontainers), the
// built OTP, identity and vaccination-record services as their own processes, centres and
// vaccinators created by the bootstrapped admin, citizens signed in through OTP (codes
// read from the development SMS inbox), beneficiaries registered through identity, and,
// when asked, each mobile's consent grant to its vaccinator and the vaccinator's look-up
// of its beneficiaries (FindBeneficiaryForVaccination), as at a centre before a dose.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type Metadata } from '@grpc/grpc-js';
import { readAllDevSms } from '@vaxguard/dev-sms';
import {
  BALANCED_CHANNEL_OPTIONS,
  clientMetadata,
  grpcTarget,
  unaryCall,
} from '@vaxguard/grpc-kit';
import { identityStaffV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import {
  eventually,
  hashStaffPasswordWithIdentity,
  madeUpAadhaar,
  spawnService,
  startKafka,
  startPostgres,
  testClient,
  type KafkaFixture,
  type ServiceProcess,
} from '@vaxguard/testing';
import { SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { untilAdmitted } from './load';

const CENTRES = 4;
/** Identity's limit of beneficiaries on one mobile; one consent grant covers them all. */
export const BENEFICIARIES_PER_MOBILE = 4;
/** Identity lets a staff member ask at most 10 people for consent a minute. */
const CONSENT_REQUESTS_PER_VACCINATOR_MINUTE = 10;
// Creating a staff member and signing one in each hash a password (memory-hard, on
// identity's thread pool): a few at a time, or identity's database connections time out
// waiting behind them on a busy machine.
const STAFF_SETUP_CONCURRENCY = 4;
// A phase must end before the consent grants it uses expire; leave a margin.
const GRANT_MARGIN_MS = 20_000;
const IST_OFFSET_MS = 5.5 * 3_600_000;

function key(): string {
  return randomBytes(32).toString('base64');
}

/**
 * Runs `task` over `items`, at most `concurrency` at a time; the first failure fails it,
 * named after `what`. A task refused for overload is asked again after the hint given.
 */
export async function inParallel<T, R>(
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
      results[index] = await untilAdmitted(() => task(items[index] as T, index));
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

/** One beneficiary to record doses for, and which vaccinator holds the grant for them. */
export interface PreparedDose {
  readonly beneficiaryRef: string;
  readonly mobileIndex: number;
}

export interface DosePlatformOptions {
  /** Beneficiaries to register (four to a mobile, each mobile one consent grant). */
  readonly beneficiaries: number;
  /** Callers at once during set-up. */
  readonly concurrency: number;
  /** Vaccinators to create (default: enough for identity's consent cap and `concurrency`). */
  readonly vaccinators?: number;
  /** Variables added to each service's environment. */
  readonly env?: {
    otp?: Record<string, string>;
    identity?: Record<string, string>;
    records?: Record<string, string>;
  };
  /** Another build of vaccination-record to run (default: the tree's). */
  readonly recordsEntry?: string;
  /**
   * Instances of each service (default 1), each its own process on one database; every
   * caller (the bench's clients, each service's peers) balances over them (round_robin).
   */
  readonly instances?: number;
  /** Told each step as it is done. */
  readonly say: (line: string) => void;
}

export interface DosePlatform extends AsyncDisposable {
  readonly kafka: KafkaFixture;
  readonly records: ServiceProcess;
  readonly identity: ServiceProcess;
  readonly otp: ServiceProcess;
  /** Each service's process id, for CPU accounting. */
  readonly processes: Record<string, number | undefined>;
  /** What each service logged, by service. */
  readonly serviceLogs: Record<string, () => string>;
  readonly prepared: readonly PreparedDose[];
  readonly vaccinators: number;
  /**
   * Each mobile's consent grant to its vaccinator, then the vaccinator's look-up of its
   * beneficiaries; doses can be recorded from then until `secondsLeft()` is 0.
   */
  grantConsents(): Promise<void>;
  /** Seconds a phase may still run before the consent grants expire (less a margin). */
  secondsLeft(): number;
  /** Records a dose; rejects with the gRPC error the service answered. */
  recordDose(
    dose: PreparedDose,
    options?: { doseNumber?: number; administeredOn?: string; deadlineMs?: number },
  ): Promise<vaccinationRecordV1.RecordDoseResponse>;
  close(): Promise<void>;
}

/** `date` (YYYY-MM-DD) moved by `days`. */
export function addDaysTo(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** Today's date in India, as a dose is dated. */
export function indianToday(): string {
  return new Date(Date.now() + IST_OFFSET_MS).toISOString().slice(0, 10);
}

export async function startDosePlatform(options: DosePlatformOptions): Promise<DosePlatform> {
  const { say } = options;
  const releases: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const release of releases.splice(0).reverse()) await release().catch(() => undefined);
  };
  const serviceLogs: Record<string, () => string> = {};
  try {
    const postgres = await startPostgres();
    releases.push(() => postgres.stop());
    const kafka = await startKafka();
    releases.push(() => kafka.stop());
    const scratch = mkdtempSync(join(tmpdir(), 'vaxguard-bench-'));
    releases.push(async () => rmSync(scratch, { recursive: true, force: true }));
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
    const instanceCount = options.instances ?? 1;
    const processes: Record<string, number | undefined> = {};
    /** A service's instances (the first alone, then the others at once), and their address list. */
    const spawned = async (name: string, entry: string, env: Record<string, string>) => {
      const start = async (k: number) => {
        const service = await spawnService({ entry, env });
        releases.push(() => service.stop());
        const label = k === 0 ? name : `${name}#${k + 1}`;
        processes[label] = service.child.pid;
        serviceLogs[label] = () => service.output();
        return service;
      };
      const first = await start(0);
      const others = await Promise.all(
        Array.from({ length: instanceCount - 1 }, (_, k) => start(k + 1)),
      );
      return Object.assign(first, {
        all: [first, ...others].map((service) => service.address).join(','),
      });
    };
    const otp = await spawned('otp', 'services/otp/dist/main.js', {
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
      ...options.env?.otp,
    });
    const identity = await spawned('identity', 'services/identity/dist/main.js', {
      ...common,
      DATABASE_URL: identityDb,
      // vaccination-record relays the vaccinator's grant to read the beneficiary.
      CLIENT_CREDENTIALS: `${apps},${recordSvc.credential}:${SERVICE_SCOPES.relayTokens}+beneficiary:demographics`,
      PLATFORM_ADMIN_BOOTSTRAP: `${admin.username}:${admin.mobile}:${await hashStaffPasswordWithIdentity(admin.password)}`,
      OTP_GRPC_ADDRESS: otp.all,
      SERVICE_CLIENT_ID: identitySvc.clientId,
      SERVICE_CLIENT_SECRET: identitySvc.secret,
      MOBILE_INDEX_KEY: mobileIndexKey,
      DOCUMENT_INDEX_KEY: key(),
      SECRET_CODE_KEY: key(),
      IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key()}`,
      ...options.env?.identity,
    });
    const records = await spawned(
      'vaccination-record',
      options.recordsEntry ?? 'services/vaccination-record/dist/main.js',
      {
        ...common,
        DATABASE_URL: recordDb,
        CLIENT_CREDENTIALS: apps,
        OTP_GRPC_ADDRESS: otp.all,
        IDENTITY_GRPC_ADDRESS: identity.all,
        SERVICE_CLIENT_ID: recordSvc.clientId,
        SERVICE_CLIENT_SECRET: recordSvc.secret,
        ISSUER_URL: 'https://vaxguard.example/vaccination-record',
        ISSUER_KEY_ENCRYPTION_KEY: key(),
        // Each vaccinator records hundreds of beneficiaries within the hour.
        STAFF_BENEFICIARIES_PER_HOUR: '10000',
        ...options.env?.records,
      },
    );
    say(instanceCount > 1 ? `services up, ${instanceCount} instances of each` : 'services up');

    const insecure = credentials.createInsecure();
    const otpClient = new otpV1.OtpServiceClient(
      grpcTarget(otp.all),
      insecure,
      BALANCED_CHANNEL_OPTIONS,
    );
    const identityClient = new identityV1.IdentityServiceClient(
      grpcTarget(identity.all),
      insecure,
      BALANCED_CHANNEL_OPTIONS,
    );
    const recordClient = new vaccinationRecordV1.VaccinationRecordServiceClient(
      grpcTarget(records.all),
      insecure,
      BALANCED_CHANNEL_OPTIONS,
    );
    releases.push(async () => {
      otpClient.close();
      identityClient.close();
      recordClient.close();
    });
    const as = (app: { clientId: string; secret: string }, token?: string): Metadata => {
      const metadata = clientMetadata(app.clientId, app.secret);
      if (token) metadata.set(TOKEN_HEADER, token);
      return metadata;
    };
    const citizenMd = as(citizenApp);
    const staffMd = as(staffApp);
    const { concurrency } = options;

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
      return inParallel('ConfirmOtp', txnIds, concurrency, (txnId) =>
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

    const doses = options.beneficiaries;
    const mobileCount = Math.ceil(doses / BENEFICIARIES_PER_MOBILE);
    // Enough vaccinators for every mobile's consent within the minute, and one per caller.
    const vaccinatorCount =
      options.vaccinators ??
      Math.max(concurrency, Math.ceil(mobileCount / CONSENT_REQUESTS_PER_VACCINATOR_MINUTE));

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
    const vaccinators = Array.from({ length: vaccinatorCount }, (_, i) => ({
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
    say(`${vaccinatorCount} vaccinators signed in at ${CENTRES} centres`);

    // ---- Citizens: a sign-in per mobile, then up to four beneficiaries on each ---------
    const mobiles = Array.from({ length: mobileCount }, (_, i) => `9${String(600_000_000 + i)}`);
    const logins = await inParallel('citizen GenerateOtp', mobiles, concurrency, (mobile) =>
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
    say(`${mobileCount} citizens signed in`);
    const registrations = Array.from({ length: doses }, (_, n) => ({
      // Slot-major order: consecutive doses belong to different mobiles, hence to
      // different vaccinators.
      mobileIndex: n % mobileCount,
      slot: Math.floor(n / mobileCount),
      n,
    }));
    const prepared: PreparedDose[] = await inParallel(
      'RegisterBeneficiary',
      registrations,
      concurrency,
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
    say(`${doses} beneficiaries registered`);

    const vaccinatorOf = (mobileIndex: number) => mobileIndex % vaccinatorCount;
    let grants: otpV1.ConfirmOtpResponse[] = [];
    let grantsExpireAt = 0;
    const grantConsents = async () => {
      const consentStarted = performance.now();
      const consentTxns = await inParallel(
        'RequestConsent',
        mobiles,
        concurrency,
        (mobile, mobileIndex) =>
          unaryCall<identityV1.RequestConsentResponse>((done) =>
            identityClient.requestConsent(
              { target: { $case: 'mobile', value: mobile } },
              vaccinatorMd[vaccinatorOf(mobileIndex)] ?? staffMd,
              done,
            ),
          ),
      );
      grants = await confirmAll(
        consentTxns.map(({ txnId }) => txnId),
        staffMd,
      );
      grantsExpireAt = Math.min(
        ...grants.map(({ claims }) => claims?.expiresAt?.getTime() ?? Date.now()),
      );
      say(
        `${mobileCount} consent grants in ${((performance.now() - consentStarted) / 1000).toFixed(1)} s`,
      );
      // Each vaccinator looks up the beneficiaries of the mobiles that consented to them,
      // as at a centre before the dose; counted in the staff quota like any look-up.
      const lookupStarted = performance.now();
      await inParallel('FindBeneficiaryForVaccination', grants, concurrency, (grant, i) =>
        unaryCall<vaccinationRecordV1.FindBeneficiaryForVaccinationResponse>((done) =>
          recordClient.findBeneficiaryForVaccination(
            { consentGrant: grant.token },
            vaccinatorMd[vaccinatorOf(i)] ?? staffMd,
            done,
          ),
        ),
      );
      say(
        `${mobileCount} look-ups in ${((performance.now() - lookupStarted) / 1000).toFixed(1)} s`,
      );
    };

    const today = indianToday();
    const recordDose: DosePlatform['recordDose'] = (dose, doseOptions = {}) =>
      unaryCall<vaccinationRecordV1.RecordDoseResponse>((done) =>
        recordClient.recordDose(
          {
            beneficiaryRef: dose.beneficiaryRef,
            vaccineCode: 'COVISHIELD',
            doseNumber: doseOptions.doseNumber ?? 1,
            batchNumber: 'BENCH0001',
            administeredOn: doseOptions.administeredOn ?? today,
            clientRequestId: `bench-${randomUUID()}`,
            consentGrant: grants[dose.mobileIndex]?.token ?? '',
          },
          vaccinatorMd[vaccinatorOf(dose.mobileIndex)] ?? staffMd,
          { deadline: Date.now() + (doseOptions.deadlineMs ?? 30_000) },
          done,
        ),
      );

    return {
      kafka,
      records,
      identity,
      otp,
      processes,
      serviceLogs,
      prepared,
      vaccinators: vaccinatorCount,
      grantConsents,
      secondsLeft: () => (grantsExpireAt - Date.now() - GRANT_MARGIN_MS) / 1000,
      recordDose,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    printServiceLogs(serviceLogs);
    await close();
    throw error;
  }
}

/** The last lines each service logged, on stderr: what a failed benchmark shows. */
export function printServiceLogs(serviceLogs: Record<string, () => string>): void {
  for (const [name, output] of Object.entries(serviceLogs)) {
    process.stderr.write(`--- ${name} (last lines) ---\n${output().slice(-3_000)}\n`);
  }
}

/**
 * The calls each service refused or failed during the run, by method and code, from its
 * own log: a retried call between services is invisible in the bench's own counts.
 */
export function refusalLines(serviceLogs: Record<string, () => string>): string[] {
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
