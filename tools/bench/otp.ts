// `npm run bench`: OTP service throughput, measured against a bare grpc-js unary echo
// served from its own process in the same run (MISSION.md: the echo is the ceiling).
// Real PostgreSQL and Kafka (Testcontainers), the built service as its own process,
// loopback only; every loop is bounded in calls and seconds. Prints figures, asserts
// nothing: these machines are shared and noisy.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { readAllDevSms } from '@vaxguard/dev-sms';
import { clientMetadata, unaryCall } from '@vaxguard/grpc-kit';
import { otpV1 } from '@vaxguard/proto';
import { spawnService, startKafka, startPostgres, testClient } from '@vaxguard/testing';
import { benchLimits, runBenchmark, startEcho } from './harness';
import { formatResult, runLoad } from './load';

const limits = benchLimits();
// Calls are spread over this many client applications: each client's quota is a lock.
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 1);

function key(): string {
  return randomBytes(32).toString('base64');
}

async function main(): Promise<void> {
  process.stdout.write(
    `OTP benchmark: concurrency ${limits.concurrency}, ${CLIENTS} client(s), at most ${limits.maxSeconds} s or ${limits.maxCalls} calls per phase\n`,
  );
  await using postgres = await startPostgres();
  await using kafka = await startKafka();
  const scratch = mkdtempSync(join(tmpdir(), 'vaxguard-bench-'));
  const sink = join(scratch, 'sms.jsonl');
  const clients = Array.from({ length: CLIENTS }, (_, i) => testClient(`bench-${i}`));
  await using otp = await spawnService({
    entry: 'services/otp/dist/main.js',
    env: {
      DATABASE_URL: postgres.url,
      DATABASE_POOL_SIZE: '20',
      KAFKA_BROKERS: kafka.brokers.join(','),
      CLIENT_CREDENTIALS: clients.map((c) => c.credential).join(','),
      LOG_LEVEL: 'warn',
      OTP_HASH_KEY: key(),
      MOBILE_INDEX_KEY: key(),
      OTP_KEY_ENCRYPTION_KEY: key(),
      OTP_SMS_DELIVERY: 'dev-sink',
      OTP_DEV_SMS_SINK: sink,
      OTP_CLIENT_QUOTA_PER_MINUTE: '1000000',
    },
  });
  await using echo = await startEcho();
  try {
    const otpClient = new otpV1.OtpServiceClient(otp.address, credentials.createInsecure());
    const metadatas = clients.map((c) => clientMetadata(c.clientId, c.secret));
    const metadataFor = (index: number) => metadatas[index % metadatas.length]!;

    // Warm both servers' code paths and connections before measuring.
    await runLoad({ ...limits, maxCalls: 200, call: () => echo.call() });

    const baseline = await runLoad({ ...limits, call: () => echo.call() });
    const keys = await runLoad({
      ...limits,
      call: () => unaryCall((done) => otpClient.getSigningKeys({}, metadataFor(0), done)),
    });
    const txnIds: string[] = [];
    const generate = await runLoad({
      ...limits,
      call: async (index) => {
        const metadata = metadataFor(index);
        const mobile = `9${String(index).padStart(9, '0')}`;
        const response = await unaryCall<otpV1.GenerateOtpResponse>((done) =>
          otpClient.generateOtp(
            {
              mobile,
              purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
              consent: undefined,
              onBehalfOfClientId: '',
            },
            metadata,
            done,
          ),
        );
        txnIds[index] = response.txnId;
      },
    });
    const codes = new Map((await readAllDevSms(sink)).map((sms) => [sms.txnId, sms.code]));
    const confirm = await runLoad({
      ...limits,
      maxCalls: txnIds.length,
      call: (index) => {
        const txnId = txnIds[index] as string;
        return unaryCall((done) =>
          otpClient.confirmOtp({ txnId, otp: codes.get(txnId) ?? '' }, metadataFor(index), done),
        );
      },
    });
    otpClient.close();

    process.stdout.write(
      [
        '',
        formatResult('baseline: bare grpc-js unary echo', baseline),
        formatResult('otp GetSigningKeys', keys, baseline),
        formatResult('otp GenerateOtp (distinct mobiles)', generate, baseline),
        formatResult('otp ConfirmOtp (right code)', confirm, baseline),
        '',
        'Reference (MISSION.md): CoWIN registration day sent 1.45 crore OTP SMS in a day (~168/s on',
        'average) and served 55,000 API hits/s; its busiest vaccination day peaked near 700 doses/s.',
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

runBenchmark(main);
