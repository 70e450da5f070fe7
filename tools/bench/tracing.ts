// `npm run bench`, tracing's cost (issue 19): the same hot call, identity's GetBeneficiary
// (a read that writes its access event to the outbox before it answers), served by two
// identity processes in the same run: one with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT:
// no SDK loaded, the no-op API only) and one exporting every span to a real Jaeger (a
// server span per call, its outbox row's traceparent, the relay's producer span). Each on
// its own database, both behind the same OTP service, PostgreSQL and Kafka. Prints the
// figures and the ratio on/off; asserts nothing: these machines are shared and noisy.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { unaryCall } from '@vaxguard/grpc-kit';
import { identityV1, otpV1 } from '@vaxguard/proto';
import {
  jaegerBinary,
  spawnService,
  startJaeger,
  startKafka,
  startPostgres,
  testClient,
} from '@vaxguard/testing';
import { SERVICE_SCOPES } from '@vaxguard/tokens';
import { benchLimits, runBenchmark, signInCitizen } from './harness';
import { formatResult, runLoad, type LoadResult } from './load';

const LIMITS = benchLimits();
/** Turns of each side: a phase's time (BENCH_SECONDS) split in this many, per side. */
const ROUNDS = 4;

/** Turns of one side as one result: calls and time summed, latencies the turns' mean. */
function combined(results: readonly LoadResult[]): LoadResult {
  const sum = (pick: (result: LoadResult) => number) =>
    results.reduce((total, result) => total + pick(result), 0);
  const seconds = sum((result) => result.seconds);
  const calls = sum((result) => result.calls);
  return {
    calls,
    errors: sum((result) => result.errors),
    refused: sum((result) => result.refused),
    seconds,
    perSecond: calls / seconds,
    p50Ms: sum((result) => result.p50Ms) / results.length,
    p99Ms: sum((result) => result.p99Ms) / results.length,
  };
}

/** One citizen per identity process: each signs in once (OTP's per-mobile quota is small). */
const MOBILES = { off: '9700000002', on: '9700000003' };

function key(): string {
  return randomBytes(32).toString('base64');
}

async function main(): Promise<void> {
  process.stdout.write(
    `Tracing benchmark: concurrency ${LIMITS.concurrency}, at most ${LIMITS.maxSeconds} s or ${LIMITS.maxCalls} calls per phase\n`,
  );
  const scratch = mkdtempSync(join(tmpdir(), 'vaxguard-bench-'));
  try {
    await using postgres = await startPostgres();
    await using kafka = await startKafka();
    await using jaeger = await startJaeger({
      dir: join(scratch, 'jaeger'),
      binary: jaegerBinary(process.env['VAXGUARD_CACHE_DIR']),
    });
    const sink = join(scratch, 'sms.jsonl');
    const app = testClient('bench-app');
    const service = testClient('svc-identity');
    const mobileIndexKey = key();
    await using otp = await spawnService({
      entry: 'services/otp/dist/main.js',
      env: {
        DATABASE_URL: postgres.url,
        DATABASE_POOL_SIZE: '20',
        KAFKA_BROKERS: kafka.brokers.join(','),
        CLIENT_CREDENTIALS: `${app.credential},${service.credential}:${SERVICE_SCOPES.onBehalf}`,
        LOG_LEVEL: 'warn',
        OTP_HASH_KEY: key(),
        MOBILE_INDEX_KEY: mobileIndexKey,
        OTP_KEY_ENCRYPTION_KEY: key(),
        OTP_SMS_DELIVERY: 'dev-sink',
        OTP_DEV_SMS_SINK: sink,
      },
    });
    const identityEnv = async (tracing: Record<string, string>) => ({
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
      ...tracing,
    });
    await using untraced = await spawnService({
      entry: 'services/identity/dist/main.js',
      env: await identityEnv({}),
    });
    await using traced = await spawnService({
      entry: 'services/identity/dist/main.js',
      env: await identityEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint }),
    });

    const otpClient = new otpV1.OtpServiceClient(otp.address, credentials.createInsecure());
    /** A fresh citizen sign-in: the token's metadata and how long a phase using it may last. */
    const signIn = (mobile: string) =>
      signInCitizen({ otp: otpClient, app, smsSink: sink, mobile, maxSeconds: LIMITS.maxSeconds });

    /** GetBeneficiary of one beneficiary registered at `address`, as a load phase's call. */
    const reader = async (address: string, mobile: string) => {
      const client = new identityV1.IdentityServiceClient(address, credentials.createInsecure());
      const registration = await signIn(mobile);
      const { beneficiary } = await unaryCall<identityV1.RegisterBeneficiaryResponse>((done) =>
        client.registerBeneficiary(
          {
            mobile,
            name: 'Asha Devi',
            gender: identityV1.Gender.GENDER_FEMALE,
            yearOfBirth: 1961,
            photoIdKind: identityV1.PhotoIdKind.PHOTO_ID_KIND_AADHAAR,
            photoIdNumber: '234123412346',
          },
          registration.metadata,
          done,
        ),
      );
      const beneficiaryRef = beneficiary?.beneficiaryRef ?? '';
      return {
        client,
        phase: async (maxCalls = LIMITS.maxCalls, seconds = registration.maxSeconds) =>
          runLoad({
            ...LIMITS,
            maxCalls,
            maxSeconds: Math.min(seconds, registration.maxSeconds),
            call: () =>
              unaryCall((done) =>
                client.getBeneficiary({ beneficiaryRef }, registration.metadata, done),
              ),
          }),
      };
    };
    const off = await reader(untraced.address, MOBILES.off);
    const on = await reader(traced.address, MOBILES.on);
    // Warm both processes' code paths, connections and the token keys before measuring.
    await off.phase(1_000);
    await on.phase(1_000);
    // Off and on in turns, ROUNDS times, each turn a third of a phase: a machine that gets
    // busier or quieter meanwhile (others share it) weighs on both alike, and each side's
    // figure sums its turns.
    const turns: { off: LoadResult[]; on: LoadResult[] } = { off: [], on: [] };
    const turn = async (side: 'off' | 'on') =>
      turns[side].push(
        await (side === 'off' ? off : on).phase(LIMITS.maxCalls, LIMITS.maxSeconds / ROUNDS),
      );
    for (let round = 0; round < ROUNDS; round++) {
      // Who goes first alternates, so neither side always follows the other's load.
      for (const side of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await turn(side);
      }
    }
    const tracingOff = combined(turns.off);
    const tracingOn = combined(turns.on);
    off.client.close();
    on.client.close();
    otpClient.close();

    process.stdout.write(
      [
        '',
        formatResult('GetBeneficiary, tracing off', tracingOff),
        formatResult('GetBeneficiary, tracing on (Jaeger)', tracingOn, tracingOff),
        '',
        `Tracing on / off: ${(tracingOn.perSecond / tracingOff.perSecond).toFixed(3)} x the calls per second, p50`,
        `${(tracingOn.p50Ms / tracingOff.p50Ms).toFixed(2)} x (${ROUNDS} turns each). Goal (issue 19): off costs nothing beyond the`,
        'no-op API; on, a few percent. With tracing on, every call is a server span exported to',
        'Jaeger in batches, and each access event carries its traceparent through the outbox.',
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBenchmark(main);
