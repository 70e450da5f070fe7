import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unavailable, VaxGuardError } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { otpV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, hashClientSecret } from './auth';
import { runOnBehalfOf, type CallContext } from './call-context';
import { GrpcServer, type ServiceHandlers } from './server';
import { createServiceClient, type ServiceClient } from './service-client';
import { refusal } from './test-support';

const SECRET = 'svc-front-secret-0123456789abcdef';
const logger = createLogger({ service: 'deadline-test', sink: new MemoryLogSink() });
/** A generous functional bound for what should happen at once. */
const PROMPTLY_MS = 5_000;

type Otp = typeof otpV1.OtpServiceService;

/** What the downstream service saw of each call made to it. */
interface Seen {
  readonly deadline: Date | undefined;
  readonly arrivedAt: number;
  readonly signal: AbortSignal;
}

const unused = {
  resendOtp: async () => ({ expiresAt: undefined, resendAvailableAt: undefined }),
  confirmOtp: async () => ({ token: '', claims: undefined }),
  issueSecretCodeGrant: async () => ({ token: '', claims: undefined }),
  getSigningKeys: async () => ({ keys: [] }),
  revokeToken: async () => ({}),
  listMyConsents: async () => ({ grants: [] }),
  withdrawConsent: async () => ({}),
};
const answer = {
  txnId: 'txn',
  expiresAt: undefined,
  resendAvailableAt: undefined,
  attemptsAllowed: 3,
};

function serverOf(handlers: ServiceHandlers<Otp>): GrpcServer {
  return new GrpcServer({
    logger,
    authenticate: clientSecretAuthenticator([
      { clientId: 'svc-front', secretSha256: hashClientSecret(SECRET), scopes: [] },
    ]),
  }).addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, handlers);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + PROMPTLY_MS;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`${what} did not happen`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A front service whose GenerateOtp calls a downstream service's GenerateOtp with the kit's
 * client (its own deadline 5 s), as identity calls OTP: the mobile says how the downstream
 * behaves (`ok`, `hang` until cancelled, `down`: UNAVAILABLE every time).
 */
describe('a call made on behalf of a call (real servers)', () => {
  const seen: Seen[] = [];
  const fronts: CallContext[] = [];
  const downstream = serverOf({
    ...unused,
    async generateOtp(request, context) {
      seen.push({ deadline: context.deadline, arrivedAt: Date.now(), signal: context.signal });
      if (request.mobile === 'down') throw unavailable('restarting');
      if (request.mobile === 'hang') {
        await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      }
      return answer;
    },
  });
  let toDownstream: ServiceClient<Otp>;
  const front = serverOf({
    ...unused,
    async generateOtp(request, context) {
      fronts.push(context);
      return toDownstream.call('generateOtp', request, { idempotent: true });
    },
  });
  let toFront: ServiceClient<Otp>;

  beforeAll(async () => {
    const downstreamPort = await downstream.listen('127.0.0.1', 0);
    const frontPort = await front.listen('127.0.0.1', 0);
    const client = (port: number) =>
      createServiceClient(otpV1.OtpServiceService, {
        address: `127.0.0.1:${port}`,
        clientId: 'svc-front',
        secret: SECRET,
        deadlineMs: 5_000,
        retry: { initialBackoffMs: 50, maxBackoffMs: 200, maxAttempts: 20 },
      });
    toDownstream = client(downstreamPort);
    toFront = client(frontPort);
  });
  afterAll(async () => {
    toFront?.close();
    toDownstream?.close();
    await Promise.all([front.shutdown(1_000), downstream.shutdown(1_000)]);
  });

  const request = (mobile: string) => ({
    mobile,
    purpose: 0,
    consent: undefined,
    onBehalfOfClientId: '',
  });

  beforeEach(() => {
    seen.length = 0;
    fronts.length = 0;
  });

  it('gives the downstream call what the caller has left, not the client’s own 5 s', async () => {
    await toFront.call('generateOtp', request('ok'), { idempotent: true, deadlineMs: 1_500 });
    const frontDeadline = fronts[0]!.deadline!.getTime();
    const downstreamDeadline = seen[0]!.deadline!.getTime();
    expect(downstreamDeadline).toBeLessThan(frontDeadline);
    expect(downstreamDeadline).toBeGreaterThan(seen[0]!.arrivedAt);
  });

  it('cancels the downstream call when the caller cancels', async () => {
    const caller = new AbortController();
    const call = runOnBehalfOf({ deadline: undefined, signal: caller.signal }, () =>
      toFront.call('generateOtp', request('hang'), { idempotent: true }),
    );
    const failed = refusal(call);
    await until(() => seen.length === 1, 'the downstream call');
    caller.abort(
      new VaxGuardError('ABORTED', 'the caller cancelled the call', { reason: 'CALLER_CANCELLED' }),
    );
    await until(() => seen[0]!.signal.aborted, 'the downstream cancellation');
    expect(fronts[0]!.signal.aborted).toBe(true);
    // The caller's own call ends with its cancellation, and nothing is tried again.
    expect((await failed).reason).toBe('CALLER_CANCELLED');
    expect(seen).toHaveLength(1);
  });

  it('retries the downstream only within the caller’s deadline', async () => {
    const failure = await refusal(
      toFront.call('generateOtp', request('down'), { idempotent: false, deadlineMs: 800 }),
    );
    expect(['DEADLINE_EXCEEDED', 'UNAVAILABLE']).toContain(failure.code);
    const frontDeadline = fronts[0]!.deadline!.getTime();
    expect(seen.length).toBeGreaterThan(1);
    for (const attempt of seen) expect(attempt.arrivedAt).toBeLessThan(frontDeadline);
    // Nothing arrives after the caller's deadline either.
    const attempts = seen.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(seen).toHaveLength(attempts);
  });
});
