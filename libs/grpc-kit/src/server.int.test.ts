import { createRequire } from 'node:module';
import {
  credentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidArgument, permissionDenied, resourceExhausted } from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { otpV1 } from '@vaxguard/proto';
import { clientSecretAuthenticator, hashClientSecret } from './auth';
import { clientMetadata, unaryCall } from './client';
import type { AdmissionLimits } from './admission';
import { GrpcServer, type ServiceHandlers } from './server';
import { readStatusDetails } from './status';

const require = createRequire(import.meta.url);
const logs = new MemoryLogSink();
const logger = createLogger({ service: 'grpc-kit-test', sink: logs });
const SECRET = 'c0rrect-h0rse-battery-staple';

// A stand-in OTP implementation whose behaviour each test picks through the mobile.
const handlers: ServiceHandlers<typeof otpV1.OtpServiceService> = {
  async generateOtp(request, context) {
    if (request.mobile === 'bad') throw invalidArgument('mobile is not valid', { reason: 'BAD' });
    if (request.mobile === 'busy') throw resourceExhausted('too many requests', 42_500);
    if (request.mobile === 'crash') throw new Error('db password=hunter2 leaked in a driver error');
    if (request.mobile === 'long') {
      // A long call that stops only when told.
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 4_000);
        context.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
    }
    if (request.mobile === 'brief') await new Promise((resolve) => setTimeout(resolve, 300));
    if (request.mobile === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      if (context.signal.aborted) throw invalidArgument('too late');
    }
    return {
      txnId: `for-${context.principal.clientId}`,
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

describe('GrpcServer over a real socket', () => {
  const clients = clientSecretAuthenticator([
    { clientId: 'portal', secretSha256: hashClientSecret(SECRET), scopes: [] },
  ]);
  // Flipped by a test to suspend the portal while one of its calls runs.
  let suspended = false;
  const server = new GrpcServer({
    logger,
    authenticate: async (metadata, method) => {
      if (suspended) {
        throw permissionDenied('this client application is suspended by the platform operators', {
          reason: 'PRINCIPAL_SUSPENDED',
        });
      }
      return clients(metadata, method);
    },
  });
  let address = '';
  let client: otpV1.OtpServiceClient;

  beforeAll(async () => {
    server.addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, handlers);
    address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    client = new otpV1.OtpServiceClient(address, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await server.shutdown(1_000);
  });

  const generate = (
    mobile: string,
    metadata: Metadata = clientMetadata('portal', SECRET),
    deadlineMs = 5_000,
  ) =>
    unaryCall<otpV1.GenerateOtpResponse>((done) =>
      client.generateOtp(
        { mobile, purpose: 1, onBehalfOfClientId: '' },
        metadata,
        { deadline: Date.now() + deadlineMs },
        done,
      ),
    );
  const failure = async (promise: Promise<unknown>): Promise<ServiceError> => {
    try {
      await promise;
    } catch (error) {
      return error as ServiceError;
    }
    throw new Error('the call succeeded');
  };

  // Found by the fuzz suite (issue 18): grpc-js answers a request it cannot decode with
  // INTERNAL; a client's broken frame is INVALID_ARGUMENT, and only once it is authenticated.
  it('refuses a request cut short or with a wrong wire type INVALID_ARGUMENT MALFORMED_REQUEST, and text with a NUL NUL_IN_TEXT', async () => {
    const raw = new (makeGenericClientConstructor({}, 'Raw'))(
      address,
      credentials.createInsecure(),
    ) as Client;
    const send = (bytes: Buffer, metadata: Metadata) =>
      unaryCall<Buffer | undefined>((done) =>
        raw.makeUnaryRequest(
          '/vaxguard.otp.v1.OtpService/GenerateOtp',
          (b: Buffer) => b,
          (b: Buffer) => b,
          bytes,
          metadata,
          { deadline: Date.now() + 5_000 },
          done,
        ),
      );
    try {
      const whole = Buffer.from(
        otpV1.GenerateOtpRequest.encode({
          mobile: 'ok',
          purpose: 1,
          onBehalfOfClientId: '',
        }).finish(),
      );
      for (const broken of [whole.subarray(0, 3), Buffer.from([0x0f]), Buffer.from([0x0a, 0x7f])]) {
        const refused = await failure(send(broken, clientMetadata('portal', SECRET)));
        expect(refused.code).toBe(status.INVALID_ARGUMENT);
        expect(readStatusDetails(refused).reason).toBe('MALFORMED_REQUEST');
        const stranger = await failure(send(broken, new Metadata()));
        expect(stranger.code).toBe(status.UNAUTHENTICATED);
      }
      // A NUL in a text field, which PostgreSQL text cannot hold, was INTERNAL wherever it
      // reached a query (an identity and an audit RPC, found by the fuzz suite).
      const nul = Buffer.from(
        otpV1.GenerateOtpRequest.encode({
          mobile: 'ok\u0000',
          purpose: 1,
          onBehalfOfClientId: '',
        }).finish(),
      );
      const refusedNul = await failure(send(nul, clientMetadata('portal', SECRET)));
      expect(refusedNul.code).toBe(status.INVALID_ARGUMENT);
      expect(readStatusDetails(refusedNul).reason).toBe('NUL_IN_TEXT');
      const answer = await send(whole, clientMetadata('portal', SECRET));
      expect(otpV1.GenerateOtpResponse.decode(answer ?? Buffer.alloc(0)).txnId).toBe('for-portal');
    } finally {
      raw.close();
    }
  });

  it('passes the authenticated principal to the handler', async () => {
    expect((await generate('ok')).txnId).toBe('for-portal');
  });

  it('refuses calls without or with wrong client credentials', async () => {
    const missing = await failure(generate('ok', new Metadata()));
    expect(missing.code).toBe(status.UNAUTHENTICATED);
    const wrong = await failure(generate('ok', clientMetadata('portal', 'guess')));
    expect(wrong.code).toBe(status.UNAUTHENTICATED);
    expect(wrong.details).toBe('unknown client or wrong client secret');
    expect(logs.text()).not.toContain('guess');
  });

  it('maps a domain error to its status, with reason and retry delay in the details', async () => {
    const bad = await failure(generate('bad'));
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, 'mobile is not valid']);
    expect(readStatusDetails(bad)).toEqual({ reason: 'BAD' });
    const busy = await failure(generate('busy'));
    expect(busy.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(readStatusDetails(busy)).toEqual({ retryAfterMs: 42_500 });
  });

  it('turns anything else into INTERNAL with a generic message, logging the cause', async () => {
    const crash = await failure(generate('crash'));
    expect([crash.code, crash.details]).toEqual([status.INTERNAL, 'internal error']);
    expect(JSON.stringify(crash.metadata.getMap())).not.toContain('hunter2');
    expect(logs.text()).toContain('db password=hunter2');
  });

  it('ends a call at its deadline', async () => {
    const late = await failure(generate('slow', clientMetadata('portal', SECRET), 200));
    expect(late.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('ends a long call with the suspension’s status within a second of the suspension', async () => {
    const running = failure(generate('long'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const suspendedAt = performance.now();
    suspended = true;
    try {
      const ended = await running;
      const afterMs = Math.round(performance.now() - suspendedAt);
      console.log(`a long unary call ended ${afterMs} ms after its client was suspended`);
      expect(afterMs).toBeLessThan(1_000);
      expect([ended.code, readStatusDetails(ended).reason]).toEqual([
        status.PERMISSION_DENIED,
        'PRINCIPAL_SUSPENDED',
      ]);
    } finally {
      suspended = false;
    }
    expect((await generate('ok')).txnId).toBe('for-portal');
  });

  it('serves grpc.health.v1 and server reflection without credentials', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(address, credentials.createInsecure()) as unknown as Client & {
      check: (
        r: { service: string },
        cb: (e: ServiceError | null, r: { status: string | number }) => void,
      ) => void;
    };
    const checked = await unaryCall<{ status: string | number }>((done) =>
      health.check({ service: 'vaxguard.otp.v1.OtpService' }, done),
    );
    expect(['SERVING', 1]).toContain(checked.status);
    health.close();

    const reflectionProto =
      require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const definition = loadPackageDefinition(loadSync(reflectionProto, { keepCase: true }));
    const reflectionPackage = (
      definition['grpc'] as Record<string, Record<string, Record<string, unknown>>>
    )['reflection']!['v1']!;
    const Reflection = reflectionPackage['ServerReflection'] as new (
      address: string,
      creds: ReturnType<typeof credentials.createInsecure>,
    ) => Client & { ServerReflectionInfo: () => NodeJS.ReadWriteStream };
    const reflection = new Reflection(address, credentials.createInsecure());
    const stream = reflection.ServerReflectionInfo();
    const services = await new Promise<string[]>((resolve, reject) => {
      stream.on(
        'data',
        (response: { list_services_response?: { service: { name: string }[] } }) => {
          resolve(response.list_services_response?.service.map((s) => s.name) ?? []);
          stream.end();
        },
      );
      stream.on('error', reject);
      stream.write({ list_services: '' } as never);
    });
    reflection.close();
    expect(services).toContain('vaxguard.otp.v1.OtpService');
  });
});

/**
 * A server with these admission limits for the tests of the describe block it is called
 * in, and GenerateOtp to it as the portal.
 */
function portalServer(admission: AdmissionLimits) {
  const server = new GrpcServer({
    logger,
    authenticate: clientSecretAuthenticator([
      { clientId: 'portal', secretSha256: hashClientSecret(SECRET), scopes: [] },
    ]),
    admission,
  });
  let client: otpV1.OtpServiceClient;

  beforeAll(async () => {
    server.addService('vaxguard.otp.v1.OtpService', otpV1.OtpServiceService, handlers);
    const address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
    client = new otpV1.OtpServiceClient(address, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await server.shutdown(1_000);
  });

  return (mobile: string, deadlineMs = 5_000) =>
    unaryCall<otpV1.GenerateOtpResponse>((done) =>
      client.generateOtp(
        { mobile, purpose: 1, onBehalfOfClientId: '' },
        clientMetadata('portal', SECRET),
        { deadline: Date.now() + deadlineMs },
        done,
      ),
    );
}

describe('GrpcServer at capacity', () => {
  const generate = portalServer({ total: 100, perMethod: 2 });

  it('refuses a call beyond the method’s bound at once, RESOURCE_EXHAUSTED SERVER_BUSY with a hint, and takes calls again once the load is gone', async () => {
    let longCallsOver = false;
    const long = Promise.allSettled([generate('long', 1_000), generate('long', 1_000)]).then(
      (outcomes) => {
        longCallsOver = true;
        return outcomes;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await generate('ok').then(
      () => undefined,
      (error: ServiceError) => error,
    );
    expect(longCallsOver).toBe(false);
    expect(refused?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(readStatusDetails(refused ?? {})).toEqual({
      reason: 'SERVER_BUSY',
      retryAfterMs: 200,
    });
    const outcomes = await long;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect((await generate('ok')).txnId).toBe('for-portal');
  });
});

const repeat = (what: string, times: number): string[] => Array.from({ length: times }, () => what);

describe('GrpcServer with adaptive admission', () => {
  // Three places to start with: a flood of a method finds them taken.
  const generate = portalServer({
    total: 100,
    perMethod: 50,
    adaptive: { targetLatencyMs: 50, minLimit: 3, initialLimit: 3 },
  });

  it('serves the calls within the method’s limit and refuses the rest of a flood at once, RESOURCE_EXHAUSTED SERVER_BUSY with the retry hint', async () => {
    const answered: string[] = [];
    const flood = Array.from({ length: 12 }, () =>
      generate('brief', 10_000).then(
        (response) => {
          answered.push('served');
          return response;
        },
        (error: ServiceError) => {
          answered.push('refused');
          return error;
        },
      ),
    );
    const outcomes = await Promise.all(flood);
    const refusals = outcomes.filter((outcome): outcome is ServiceError => 'code' in outcome);
    expect(outcomes.length - refusals.length).toBe(3);
    expect(new Set(refusals.map((refusal) => refusal.code))).toEqual(
      new Set([status.RESOURCE_EXHAUSTED]),
    );
    expect(new Set(refusals.map((refusal) => JSON.stringify(readStatusDetails(refusal))))).toEqual(
      new Set([JSON.stringify({ reason: 'SERVER_BUSY', retryAfterMs: 200 })]),
    );
    // Refused without waiting for the calls admitted: every refusal came before any answer.
    expect(answered).toEqual([...repeat('refused', 9), ...repeat('served', 3)]);
    // The places are free again once the calls are over.
    expect((await generate('ok')).txnId).toBe('for-portal');
  });
});
