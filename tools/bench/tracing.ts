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
import { credentials, type Metadata } from '@grpc/grpc-js';
import { readDevSms } from '@vaxguard/dev-sms';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { identityV1, otpV1 } from '@vaxguard/proto';
import {
  eventually,
  jaegerBinary,
  spawnService,
  startJaeger,
  startKafka,
  startPostgres,
  testClient,
} from '@vaxguard/testing';
import { MAX_TOKEN_LIFETIME_MS, SERVICE_SCOPES, TOKEN_HEADER } from '@vaxguard/tokens';
import { benchLimits, runBenchmark } from './harness';
import { formatResult, runLoad } from './load';

const LIMITS = benchLimits();
// A phase must end before the citizen token it uses expires; leave a margin.
const TOKEN_MARGIN_MS = 30_000;
const MOBILE = '9700000002';

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
    const signIn = async (): Promise<{ metadata: Metadata; maxSeconds: number }> => {
      const { txnId } = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
        otpClient.generateOtp(
          {
            mobile: MOBILE,
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
            consent: undefined,
            onBehalfOfClientId: '',
          },
          clientMetadata(app.clientId, app.secret),
          done,
        ),
      );
      const sms = await eventually(async () => {
        const found = await readDevSms(sink, txnId);
        if (!found) throw new Error('no SMS yet');
        return found;
      });
      const { token, claims } = await unaryCall<otpV1.ConfirmOtpResponse>((done) =>
        otpClient.confirmOtp(
          { txnId, otp: sms.code },
          clientMetadata(app.clientId, app.secret),
          done,
        ),
      );
      const metadata = clientMetadata(app.clientId, app.secret);
      metadata.set(TOKEN_HEADER, token);
      const expiresAt = claims?.expiresAt?.getTime() ?? Date.now() + MAX_TOKEN_LIFETIME_MS;
      const left = (expiresAt - Date.now() - TOKEN_MARGIN_MS) / 1000;
      return { metadata, maxSeconds: Math.min(LIMITS.maxSeconds, left) };
    };

    /** GetBeneficiary of one beneficiary registered at `address`, as a load phase's call. */
    const reader = async (address: string) => {
      const client = new identityV1.IdentityServiceClient(address, credentials.createInsecure());
      const registration = await signIn();
      const { beneficiary } = await unaryCall<identityV1.RegisterBeneficiaryResponse>((done) =>
        client.registerBeneficiary(
          {
            mobile: MOBILE,
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
        phase: async (maxCalls = LIMITS.maxCalls) => {
          const reads = await signIn();
          return runLoad({
            ...LIMITS,
            maxCalls,
            maxSeconds: reads.maxSeconds,
            call: () =>
              unaryCall((done) => client.getBeneficiary({ beneficiaryRef }, reads.metadata, done)),
          });
        },
      };
    };
    const off = await reader(untraced.address);
    const on = await reader(traced.address);
    // Warm both processes' code paths, connections and the token keys before measuring.
    await off.phase(200);
    await on.phase(200);
    // Off, on, off again: a machine that got busier or quieter meanwhile shows as two
    // different off figures, and the ratio is taken against their mean.
    const tracingOff = await off.phase();
    const tracingOn = await on.phase();
    const tracingOffAgain = await off.phase();
    const offPerSecond = (tracingOff.perSecond + tracingOffAgain.perSecond) / 2;
    const offP50 = (tracingOff.p50Ms + tracingOffAgain.p50Ms) / 2;
    off.client.close();
    on.client.close();
    otpClient.close();

    process.stdout.write(
      [
        '',
        formatResult('GetBeneficiary, tracing off', tracingOff),
        formatResult('GetBeneficiary, tracing on (Jaeger)', tracingOn, tracingOff),
        formatResult('GetBeneficiary, tracing off again', tracingOffAgain, tracingOff),
        '',
        `Tracing on / off (the mean of both off phases): ${(tracingOn.perSecond / offPerSecond).toFixed(3)} x the calls`,
        `per second, p50 ${(tracingOn.p50Ms / offP50).toFixed(2)} x. Goal (issue 19): off costs nothing beyond the`,
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
