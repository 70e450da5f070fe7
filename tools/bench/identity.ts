// `npm run bench`, second part: the identity service's authorised reads, measured
// against the bare grpc-js unary echo served from its own process in the same run.
// Real PostgreSQL and Kafka (Testcontainers); the built OTP and identity services as
// their own processes; a citizen signed in through OTP for real, reading the one
// beneficiary they registered. Every GetBeneficiary writes its access.granted event to
// the outbox before it answers: that insert is part of what is measured.
// Prints figures, asserts nothing: these machines are shared and noisy.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { unaryCall } from '@vaxguard/grpc-kit';
import { identityV1, otpV1 } from '@vaxguard/proto';
import { spawnService, startKafka, startPostgres, testClient } from '@vaxguard/testing';
import { SERVICE_SCOPES } from '@vaxguard/tokens';
import { benchLimits, runBenchmark, signInCitizen, startEcho } from './harness';
import { formatResult, runLoad } from './load';

const LIMITS = benchLimits();
// Node options for the identity process alone, to profile it (e.g. a `--require` of a
// preload that starts the inspector's profiler; Node 20 refuses --cpu-prof here).
const IDENTITY_NODE_OPTIONS = process.env['BENCH_IDENTITY_NODE_OPTIONS'];
const MOBILE = '9700000001';
const AADHAAR = '234123412346';

function key(): string {
  return randomBytes(32).toString('base64');
}

async function main(): Promise<void> {
  process.stdout.write(
    `Identity benchmark: concurrency ${LIMITS.concurrency}, at most ${LIMITS.maxSeconds} s or ${LIMITS.maxCalls} calls per phase\n`,
  );
  await using postgres = await startPostgres();
  await using kafka = await startKafka();
  const scratch = mkdtempSync(join(tmpdir(), 'vaxguard-bench-'));
  const sink = join(scratch, 'sms.jsonl');
  // One client application signs the citizen in at OTP and reads at identity: a token
  // is accepted only from the client it was issued to.
  const app = testClient('bench-app');
  const service = testClient('svc-identity');
  const mobileIndexKey = key();
  try {
    await using otp = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        DATABASE_URL: postgres.url,
        DATABASE_POOL_SIZE: '20',
        KAFKA_BROKERS: kafka.brokers.join(','),
        // Identity calls with its own credential: signing keys and, as under `npm start`,
        // codes requested on behalf of the client that confirms them.
        CLIENT_CREDENTIALS: `${app.credential},${service.credential}:${SERVICE_SCOPES.onBehalf}`,
        LOG_LEVEL: 'warn',
        OTP_HASH_KEY: key(),
        MOBILE_INDEX_KEY: mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: key(),
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: sink,
      },
    });
    await using identity = await spawnService({
      entry: 'services/identity/dist/main.js',
      env: {
        DATABASE_URL: await postgres.createDatabase(),
        DATABASE_POOL_SIZE: '20',
        KAFKA_BROKERS: kafka.brokers.join(','),
        CLIENT_CREDENTIALS: app.credential,
        LOG_LEVEL: 'warn',
        OTP_GRPC_ADDRESS: otp.address,
        SERVICE_CLIENT_ID: service.clientId,
        SERVICE_CLIENT_SECRET: service.secret,
        MOBILE_INDEX_KEY: mobileIndexKey,
        DOCUMENT_INDEX_KEY: key(),
        SECRET_CODE_KEY: key(),
        IDENTITY_KEY_ENCRYPTION_KEYS: `kek-1:${key()}`,
        ...(IDENTITY_NODE_OPTIONS ? { NODE_OPTIONS: IDENTITY_NODE_OPTIONS } : {}),
      },
    });
    await using echo = await startEcho();

    const otpClient = new otpV1.OtpServiceClient(otp.address, credentials.createInsecure());
    const identityClient = new identityV1.IdentityServiceClient(
      identity.address,
      credentials.createInsecure(),
    );
    /** A fresh citizen sign-in: the token and how long a phase using it may last. */
    const signIn = () =>
      signInCitizen({
        otp: otpClient,
        app,
        smsSink: sink,
        mobile: MOBILE,
        maxSeconds: LIMITS.maxSeconds,
      });

    const registration = await signIn();
    const { beneficiary } = await unaryCall<identityV1.RegisterBeneficiaryResponse>((done) =>
      identityClient.registerBeneficiary(
        {
          mobile: MOBILE,
          name: 'Asha Devi',
          gender: identityV1.Gender.GENDER_FEMALE,
          yearOfBirth: 1961,
          photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
          photoIdNumber: AADHAAR,
        },
        registration.metadata,
        done,
      ),
    );
    const beneficiaryRef = beneficiary?.beneficiaryRef ?? '';

    // Warm both servers' code paths and connections (identity fetches the signing keys
    // on its first token) before measuring.
    const warmUp = { ...LIMITS, maxCalls: 200 };
    await runLoad({ ...warmUp, call: () => echo.call() });
    await runLoad({
      ...warmUp,
      call: () =>
        unaryCall((done) =>
          identityClient.getBeneficiary({ beneficiaryRef }, registration.metadata, done),
        ),
    });

    const baseline = await runLoad({ ...LIMITS, call: () => echo.call() });
    const reads = await signIn();
    const get = await runLoad({
      ...LIMITS,
      maxSeconds: reads.maxSeconds,
      call: () =>
        unaryCall((done) =>
          identityClient.getBeneficiary({ beneficiaryRef }, reads.metadata, done),
        ),
    });
    const lists = await signIn();
    const list = await runLoad({
      ...LIMITS,
      maxSeconds: lists.maxSeconds,
      call: () => unaryCall((done) => identityClient.listMyBeneficiaries({}, lists.metadata, done)),
    });
    otpClient.close();
    identityClient.close();

    process.stdout.write(
      [
        '',
        formatResult('baseline: bare grpc-js unary echo', baseline),
        formatResult('identity GetBeneficiary (owner)', get, baseline),
        formatResult('identity ListMyBeneficiaries (1)', list, baseline),
        '',
        'Goal: GetBeneficiary at least 0.4 x the echo. Each read is two statements: the',
        'beneficiary found, then its access.granted event written to the outbox (no NOTIFY),',
        'before the answer leaves.',
        'Reference (MISSION.md): CoWIN served 55,000 API hits/s on registration day.',
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBenchmark(main);
