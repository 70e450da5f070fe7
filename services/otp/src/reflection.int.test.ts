import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { spawnService, startKafka, startPostgres, testClient } from '@vaxguard/testing';

// Where `bash tools/dev/ensure-prereqs.sh grpcurl` installs it (npm test and CI ask for it).
const GRPCURL = join(
  process.env['VAXGUARD_CACHE_DIR'] ?? join(homedir(), '.cache', 'vaxguard'),
  'bin',
  'grpcurl',
);

interface GrpcurlResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs grpcurl against a plaintext address (flags go before the address, the verb and
 * its arguments after); it knows nothing but what reflection tells it.
 */
function grpcurl(
  address: string,
  args: readonly string[],
  flags: readonly string[] = [],
): Promise<GrpcurlResult> {
  return new Promise((resolve, reject) => {
    execFile(
      GRPCURL,
      ['-plaintext', '-max-time', '10', ...flags, address, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        const exitCode = error ? error.code : 0;
        if (typeof exitCode !== 'number') reject(error ?? new Error('grpcurl did not run'));
        else resolve({ exitCode, stdout, stderr });
      },
    );
  });
}

/**
 * The built OTP service, run as its own process, seen by grpcurl with only its
 * address: server reflection must list exactly what the server runs and describe every
 * file those services need, the status details included.
 */
describe('OTP service reflection and health, through grpcurl', () => {
  it('lists, describes, health-checks and calls with nothing but the address', async () => {
    await access(GRPCURL).catch(() => {
      throw new Error(
        `grpcurl not found at ${GRPCURL}: run 'bash tools/dev/ensure-prereqs.sh grpcurl'`,
      );
    });
    const portal = testClient('cowin-portal');
    const dir = await mkdtemp(join(tmpdir(), 'otp-reflection-'));
    try {
      await using postgres = await startPostgres();
      await using kafka = await startKafka();
      await using otp = await spawnService({
        entry: 'services/otp/dist/main.js',
        env: {
          DATABASE_URL: postgres.url,
          KAFKA_BROKERS: kafka.brokers.join(','),
          CLIENT_CREDENTIALS: portal.credential,
          OTP_HASH_KEY: Buffer.alloc(32, 31).toString('base64'),
          MOBILE_INDEX_KEY: Buffer.alloc(32, 32).toString('base64'),
          OTP_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 33).toString('base64'),
          OTP_SMS_DELIVERY: 'dev-sink',
          OTP_DEV_SMS_SINK: join(dir, 'sms.jsonl'),
        },
      });

      const listed = await grpcurl(otp.address, ['list']);
      expect(listed).toMatchObject({ exitCode: 0, stderr: '' });
      expect(listed.stdout.trim().split('\n')).toEqual([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'vaxguard.otp.v1.OtpService',
      ]);

      const service = await grpcurl(otp.address, ['describe', 'vaxguard.otp.v1.OtpService']);
      expect(service).toMatchObject({ exitCode: 0, stderr: '' });
      expect(service.stdout).toContain(
        'rpc GenerateOtp ( .vaxguard.otp.v1.GenerateOtpRequest ) returns ( .vaxguard.otp.v1.GenerateOtpResponse );',
      );

      const response = await grpcurl(otp.address, [
        'describe',
        'vaxguard.otp.v1.GenerateOtpResponse',
      ]);
      expect(response).toMatchObject({ exitCode: 0, stderr: '' });
      expect(response.stdout).toContain('.google.protobuf.Timestamp expires_at = 2;');

      for (const name of ['', 'vaxguard.otp.v1.OtpService']) {
        const health = await grpcurl(
          otp.address,
          ['grpc.health.v1.Health/Check'],
          ['-d', JSON.stringify({ service: name })],
        );
        expect(health.exitCode, health.stderr).toBe(0);
        expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
      }

      // An obviously invalid mobile: the refusal's ErrorInfo must decode through reflection.
      const refused = await grpcurl(
        otp.address,
        ['vaxguard.otp.v1.OtpService/GenerateOtp'],
        [
          '-format-error',
          '-H',
          `x-vaxguard-client-id: ${portal.clientId}`,
          '-H',
          `authorization: Bearer ${portal.secret}`,
          '-d',
          JSON.stringify({ mobile: '12345', purpose: 'OTP_PURPOSE_CITIZEN_LOGIN' }),
        ],
      );
      // grpcurl exits with 64 + the status code.
      expect(refused.exitCode, refused.stderr).toBe(64 + status.INVALID_ARGUMENT);
      expect(JSON.parse(refused.stderr)).toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            domain: 'vaxguard.in',
            reason: 'INVALID_MOBILE',
          },
        ],
      });
      expect(refused.stderr).not.toContain('12345');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
