// Client-side balancing (issue 19): one client over two real instances of a service,
// named as a list of addresses. Calls spread over both; with one instance gone, every
// call goes on succeeding on the other, and one caught on the dying instance is retried
// there only when it is idempotent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { otpV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, hashClientSecret } from './auth';
import { GrpcServer } from './server';
import { createServiceClient, type ServiceClient } from './service-client';

const SECRET = 'svc-identity-secret-0123456789';
const logger = createLogger({ service: 'balancing-test', sink: new MemoryLogSink() });

/** An OTP stand-in that answers with its own name, and holds a `hang` call 3 s. */
function instance(name: string, served: string[]): GrpcServer {
  const server = new GrpcServer({
    logger,
    authenticate: clientSecretAuthenticator([
      { clientId: 'svc-identity', secretSha256: hashClientSecret(SECRET), scopes: [] },
    ]),
  });
  return server.addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, {
    async generateOtp(request) {
      served.push(`${name}:${request.mobile}`);
      if (request.mobile.startsWith('hang')) await new Promise((done) => setTimeout(done, 3_000));
      return {
        txnId: name,
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
  });
}

const request = (mobile: string): otpV1.GenerateOtpRequest => ({
  mobile,
  purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
  onBehalfOfClientId: '',
});

describe('a service client over two instances (round_robin)', () => {
  const served: string[] = [];
  let a: GrpcServer;
  let b: GrpcServer;
  let client: ServiceClient<typeof otpV1.OtpServiceService>;

  beforeAll(async () => {
    a = instance('a', served);
    b = instance('b', served);
    const ports = [await a.listen('127.0.0.1', 0), await b.listen('127.0.0.1', 0)];
    client = createServiceClient(otpV1.OtpServiceService, {
      address: ports.map((port) => `127.0.0.1:${port}`).join(','),
      clientId: 'svc-identity',
      secret: SECRET,
      deadlineMs: 5_000,
    });
  });
  afterAll(async () => {
    client?.close();
    await Promise.all([a?.shutdown(1_000), b?.shutdown(1_000)]);
  });

  it('spreads calls over both, then keeps every call succeeding on the one left when the other dies mid-call', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(
        (await client.call('generateOtp', request(`spread-${i}`), { idempotent: false })).txnId,
      );
    }
    // round_robin: each instance in turn, once both are READY (the first calls may all go
    // to the first to connect).
    expect(answers.filter((name) => name === 'a').length).toBeGreaterThanOrEqual(5);
    expect(answers.filter((name) => name === 'b').length).toBeGreaterThanOrEqual(5);

    // Calls held on both instances, then `a` dies: those on it end UNAVAILABLE; the
    // idempotent ones are retried on `b`, the others are not (they may have been applied).
    const held = ['hang-1', 'hang-2', 'hang-3', 'hang-4'].map((mobile, i) =>
      client.call('generateOtp', request(mobile), { idempotent: i % 2 === 0 }).then(
        (answer) => answer.txnId,
        (error: unknown) => (isVaxGuardError(error) ? error.code : String(error)),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const onA = served.filter((entry) => /^a:hang/.test(entry)).map((entry) => entry.slice(2));
    expect(onA.length).toBeGreaterThan(0);
    await a.shutdown(0);
    const outcomes = await Promise.all(held);
    ['hang-1', 'hang-2', 'hang-3', 'hang-4'].forEach((mobile, i) => {
      const idempotent = i % 2 === 0;
      const expected = !onA.includes(mobile) ? 'b' : idempotent ? 'b' : 'UNAVAILABLE';
      expect([mobile, outcomes[i]]).toEqual([mobile, expected]);
    });

    // From now on, `a` is in TRANSIENT_FAILURE: every call, idempotent or not, goes to `b`.
    const after: string[] = [];
    for (let i = 0; i < 10; i++) {
      after.push(
        (await client.call('generateOtp', request(`after-${i}`), { idempotent: false })).txnId,
      );
    }
    expect(after).toEqual(Array(10).fill('b'));
  }, 30_000);

  it('refuses a list that names an instance by host name, with what to use instead', () => {
    expect(() =>
      createServiceClient(otpV1.OtpServiceService, {
        address: 'otp-0:50052,otp-1:50052',
        clientId: 'svc-identity',
        secret: SECRET,
      }),
    ).toThrow(/a host name: use dns:\/\/\/name:port/);
  });
});
