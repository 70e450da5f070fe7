import { createServer } from 'node:net';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidArgument, isVaxGuardError, resourceExhausted, unavailable } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { Registry } from '@vaxguard/metrics';
import { otpV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, header, hashClientSecret } from './auth';
import { GrpcServer, type ServiceHandlers } from './server';
import { createServiceClient, type ServiceClientOptions } from './service-client';
import { refusal } from './test-support';

const SECRET = 'svc-identity-secret-0123456789';
const USER_TOKEN_HEADER = 'x-vaxguard-token';
const logger = createLogger({ service: 'client-kit-test', sink: new MemoryLogSink() });

// A stand-in OTP service whose behaviour each call picks through its mobile
// (`behaviour:times`: down, busy and hang for the first `times` attempts); every attempt is counted per mobile so tests see what the client did.
const attempts = new Map<string, number>();
const seen: { clientId: string; userToken: string | undefined }[] = [];
const handlers: ServiceHandlers<typeof otpV1.OtpServiceService> = {
  async generateOtp(request, context) {
    const n = (attempts.get(request.mobile) ?? 0) + 1;
    attempts.set(request.mobile, n);
    seen.push({
      clientId: context.principal.clientId,
      userToken: header(context.metadata, USER_TOKEN_HEADER),
    });
    const [behaviour, times] = request.mobile.split(':');
    if (behaviour === 'down' && n <= Number(times)) throw unavailable('the store is restarting');
    if (behaviour === 'busy' && n <= Number(times)) {
      // The purpose field doubles as the retry-after, in tenths of a second.
      throw resourceExhausted('too many codes sent for this mobile', request.purpose * 100, {
        reason: 'MOBILE_QUOTA_15M',
      });
    }
    if (behaviour === 'bad') {
      throw invalidArgument('mobile is not valid', { reason: 'INVALID_MOBILE' });
    }
    const hangs = behaviour === 'slow' || (behaviour === 'hang' && n <= Number(times));
    if (hangs) await new Promise((resolve) => setTimeout(resolve, 3_000));
    return {
      txnId: `txn-${n}`,
      expiresAt: undefined,
      resendAvailableAt: undefined,
      attemptsAllowed: 3,
    };
  },
  resendOtp: async () => ({ expiresAt: undefined, resendAvailableAt: undefined }),
  confirmOtp: async () => ({ token: '', claims: undefined }),
  issueSecretCodeGrant: async () => ({ token: '', claims: undefined }),
  getSigningKeys: async () => ({ keys: [] }),
  revokeToken: async () => ({}),
  listMyConsents: async () => ({ grants: [] }),
  withdrawConsent: async () => ({}),
};

function otpServer(): GrpcServer {
  const server = new GrpcServer({
    logger,
    authenticate: clientSecretAuthenticator([
      { clientId: 'svc-identity', secretSha256: hashClientSecret(SECRET), scopes: [] },
    ]),
  });
  return server.addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, handlers);
}

/** A loopback port nothing listens on (free a moment ago). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('service client kit against a real server', () => {
  const server = otpServer();
  let address = '';
  beforeAll(async () => {
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });
  afterAll(() => server.shutdown(1_000));

  const clientOptions = (overrides: Partial<ServiceClientOptions> = {}): ServiceClientOptions => ({
    address,
    clientId: 'svc-identity',
    secret: SECRET,
    retry: { initialBackoffMs: 20, maxBackoffMs: 100 },
    ...overrides,
  });
  const generateRequest = (mobile: string, purpose = 0) => ({
    mobile,
    purpose,
    consent: undefined,
    onBehalfOfClientId: '',
  });
  const generate = (
    mobile: string,
    idempotent: boolean,
    purpose = 0,
    overrides: Partial<ServiceClientOptions> = {},
  ) => {
    const otp = createServiceClient(otpV1.OtpServiceClient, clientOptions(overrides));
    return otp
      .call('generateOtp', generateRequest(mobile, purpose), { idempotent })
      .finally(() => otp.close());
  };

  it('calls with the calling service’s own credentials, and the call’s own metadata', async () => {
    const otp = createServiceClient(otpV1.OtpServiceService, clientOptions());
    const userToken = new Metadata();
    userToken.set(USER_TOKEN_HEADER, 'citizen-token');
    await otp.call('generateOtp', generateRequest('ok:0'), {
      idempotent: false,
      metadata: userToken,
    });
    expect(seen.at(-1)).toEqual({ clientId: 'svc-identity', userToken: 'citizen-token' });
    await otp.call('generateOtp', generateRequest('ok:1'), { idempotent: false });
    expect(seen.at(-1)).toEqual({ clientId: 'svc-identity', userToken: undefined });
    otp.close();
  });

  it('counts each call once in its metrics, by method and final status, retries included', async () => {
    const metrics = new Registry();
    const otp = createServiceClient(otpV1.OtpServiceService, clientOptions({ metrics }));
    await otp.call('generateOtp', generateRequest('ok:metrics'), { idempotent: false });
    // Retried twice through UNAVAILABLE, answered OK: one call, one OK.
    await otp.call('generateOtp', generateRequest('down:2:metrics'), { idempotent: true });
    await refusal(otp.call('generateOtp', generateRequest('bad'), { idempotent: false }));
    otp.close();
    const labels =
      'grpc_service="vaxguard.otp.v1.OtpService",grpc_method="GenerateOtp",grpc_type="unary"';
    const text = await metrics.metrics();
    expect(text).toContain(`grpc_client_started_total{${labels}} 3`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="OK"} 2`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="INVALID_ARGUMENT"} 1`);
    expect(text).toContain(`grpc_client_handling_seconds_count{${labels}} 3`);
    expect(text).not.toMatch(/ok:metrics|down:2:metrics/);
    // A second client of the same process adds to the same series.
    const again = createServiceClient(otpV1.OtpServiceService, clientOptions({ metrics }));
    await again.call('generateOtp', generateRequest('ok:metrics-2'), { idempotent: false });
    again.close();
    expect(await metrics.metrics()).toContain(`grpc_client_started_total{${labels}} 4`);
  });

  it('retries an idempotent call through UNAVAILABLE, and never a non-idempotent one', async () => {
    await expect(generate('down:2', true)).resolves.toMatchObject({ txnId: 'txn-3' });
    expect(attempts.get('down:2')).toBe(3);
    const once = await refusal(generate('down:1', false));
    expect([once.code, once.message]).toEqual(['UNAVAILABLE', 'the store is restarting']);
    expect(attempts.get('down:1')).toBe(1);
    const exhausted = await refusal(generate('down:9', true, 0, { retry: { maxAttempts: 3 } }));
    expect(exhausted.code).toBe('UNAVAILABLE');
    expect(attempts.get('down:9')).toBe(3);
  });

  it('waits out RESOURCE_EXHAUSTED for its retry-after, and gives up when that passes the deadline', async () => {
    const started = performance.now();
    await expect(generate('busy:1', false, 3)).resolves.toMatchObject({ txnId: 'txn-2' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    const tooLong = await refusal(generate('busy:9', true, 50, { deadlineMs: 1_000 }));
    expect([tooLong.code, tooLong.message, tooLong.reason, tooLong.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'too many codes sent for this mobile',
      'MOBILE_QUOTA_15M',
      5_000,
    ]);
    expect(attempts.get('busy:9')).toBe(1);
  });

  it('turns a domain refusal back into the same VaxGuardError, not retried', async () => {
    const bad = await refusal(generate('bad:0', true));
    expect([bad.code, bad.message, bad.reason]).toEqual([
      'INVALID_ARGUMENT',
      'mobile is not valid',
      'INVALID_MOBILE',
    ]);
    expect(attempts.get('bad:0')).toBe(1);
  });

  it('bounds every call, all attempts included, by its deadline', async () => {
    const started = performance.now();
    const late = await refusal(generate('slow:0', true, 0, { deadlineMs: 300 }));
    expect(late.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('gives up a retry wait when the client closes', async () => {
    const otp = createServiceClient(otpV1.OtpServiceService, clientOptions());
    const started = performance.now();
    const waiting = refusal(
      otp.call('generateOtp', generateRequest('busy:10', 20), { idempotent: true }),
    );
    setTimeout(() => otp.close(), 200);
    const busy = await waiting;
    expect([busy.code, busy.retryAfterMs]).toEqual(['RESOURCE_EXHAUSTED', 2_000]);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(attempts.get('busy:10')).toBe(1);
  });

  it('holds a call, even one that is not idempotent, until an unreachable service comes up', async () => {
    const port = await freePort();
    const otp = createServiceClient(
      otpV1.OtpServiceService,
      clientOptions({ address: `127.0.0.1:${port}` }),
    );
    const late = otpServer();
    try {
      const sent = otp.call('generateOtp', generateRequest('late:0'), { idempotent: false });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await late.listen('127.0.0.1', port);
      await expect(sent).resolves.toMatchObject({ txnId: 'txn-1' });
      expect(attempts.get('late:0')).toBe(1);
    } finally {
      otp.close();
      await late.shutdown(1_000);
    }
  });

  it('does not wait past the deadline for a service that never comes up', async () => {
    const started = performance.now();
    const nobody = await refusal(
      generate('nobody:0', false, 0, { address: `127.0.0.1:${await freePort()}`, deadlineMs: 500 }),
    );
    expect(nobody.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('retries a call cut off by a lost connection only when it is idempotent', async () => {
    const port = await freePort();
    const cutOff = async (mobile: string, idempotent: boolean) => {
      const otp = createServiceClient(
        otpV1.OtpServiceService,
        clientOptions({ address: `127.0.0.1:${port}` }),
      );
      const first = otpServer();
      await first.listen('127.0.0.1', port);
      const second = otpServer();
      try {
        const outcome = otp.call('generateOtp', generateRequest(mobile), { idempotent }).then(
          (response) => response.txnId,
          (error: unknown) => (isVaxGuardError(error) ? error.code : error),
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        // The service dies with the call in progress, and comes back on the same address.
        await first.shutdown(0);
        await second.listen('127.0.0.1', port);
        return await outcome;
      } finally {
        otp.close();
        await second.shutdown(1_000);
      }
    };
    await expect(cutOff('hang:1', false)).resolves.toBe('UNAVAILABLE');
    expect(attempts.get('hang:1')).toBe(1);
    const retried = await cutOff('hang:1:idempotent', true);
    expect([retried, attempts.get('hang:1:idempotent')]).toEqual(['txn-2', 2]);
  });
});
