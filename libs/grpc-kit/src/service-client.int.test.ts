import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  invalidArgument,
  isVaxGuardError,
  resourceExhausted,
  unavailable,
  type VaxGuardError,
} from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { otpV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, hashClientSecret } from './auth';
import { GrpcServer, type ServiceHandlers } from './server';
import { createServiceClient } from './service-client';

const SECRET = 'svc-identity-secret-0123456789';
const logger = createLogger({ service: 'client-kit-test', sink: new MemoryLogSink() });

// A stand-in OTP service whose behaviour each call picks through its mobile; every
// attempt is counted per mobile so tests see what the client did.
const attempts = new Map<string, number>();
const seen: string[] = [];
const handlers: ServiceHandlers<typeof otpV1.OtpServiceService> = {
  async generateOtp(request, context) {
    const n = (attempts.get(request.mobile) ?? 0) + 1;
    attempts.set(request.mobile, n);
    seen.push(context.principal.clientId);
    const [behaviour, times] = request.mobile.split(':');
    if (behaviour === 'down' && n <= Number(times)) throw unavailable('the store is restarting');
    if (behaviour === 'busy' && n <= Number(times)) {
      throw resourceExhausted(
        'too many codes sent for this mobile',
        Number(request.purpose) * 100,
        {
          reason: 'MOBILE_QUOTA_15M',
        },
      );
    }
    if (behaviour === 'bad')
      throw invalidArgument('mobile is not valid', { reason: 'INVALID_MOBILE' });
    if (behaviour === 'slow') await new Promise((resolve) => setTimeout(resolve, 3_000));
    return {
      txnId: `txn-${n}`,
      expiresAt: undefined,
      resendAvailableAt: undefined,
      attemptsAllowed: 3,
    };
  },
  resendOtp: async () => ({ expiresAt: undefined, resendAvailableAt: undefined }),
  confirmOtp: async () => ({ token: '', claims: undefined }),
  getSigningKeys: async () => ({ keys: [] }),
  revokeToken: async () => ({}),
};

async function refusal(promise: Promise<unknown>): Promise<VaxGuardError> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('service client kit against a real server', () => {
  const server = new GrpcServer({
    logger,
    authenticate: clientSecretAuthenticator([
      { clientId: 'svc-identity', secretSha256: hashClientSecret(SECRET), scopes: [] },
    ]),
  });
  let address = '';
  beforeAll(async () => {
    server.addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, handlers);
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  });
  afterAll(() => server.shutdown(1_000));

  const client = (deadlineMs = 5_000) =>
    createServiceClient(otpV1.OtpServiceService, {
      address,
      clientId: 'svc-identity',
      secret: SECRET,
      deadlineMs,
      retry: { initialBackoffMs: 20, maxBackoffMs: 100 },
    });
  const generate = (mobile: string, idempotent: boolean, purpose = 0, deadlineMs?: number) => {
    const otp = client(deadlineMs);
    return otp
      .call(
        'generateOtp',
        { mobile, purpose, consent: undefined, onBehalfOfClientId: '' },
        { idempotent },
      )
      .finally(() => otp.close());
  };

  it('calls with the calling service’s own credentials', async () => {
    await generate('ok:0', true);
    expect(seen.at(-1)).toBe('svc-identity');
  });

  it('retries an idempotent call through UNAVAILABLE, and never a non-idempotent one', async () => {
    await expect(generate('down:2', true)).resolves.toMatchObject({ txnId: 'txn-3' });
    expect(attempts.get('down:2')).toBe(3);
    const once = await refusal(generate('down:1', false));
    expect([once.code, once.message]).toEqual(['UNAVAILABLE', 'the store is restarting']);
    expect(attempts.get('down:1')).toBe(1);
  });

  it('waits out RESOURCE_EXHAUSTED for its retry-after, and gives up when that passes the deadline', async () => {
    const started = performance.now();
    await expect(generate('busy:1', false, 3)).resolves.toMatchObject({ txnId: 'txn-2' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    const tooLong = await refusal(generate('busy:9', true, 50, 1_000));
    expect([tooLong.code, tooLong.reason, tooLong.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
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
    const late = await refusal(generate('slow:0', true, 0, 300));
    expect(late.code).toBe('DEADLINE_EXCEEDED');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses bad options at construction, naming each', () => {
    expect(() =>
      createServiceClient(otpV1.OtpServiceService, {
        address: 'nowhere',
        clientId: '',
        secret: '',
        deadlineMs: 0,
      }),
    ).toThrow(
      'service client: address must be host:port; clientId and secret are required; deadlineMs must be positive',
    );
  });
});
