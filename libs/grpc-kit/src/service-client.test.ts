import { Metadata } from '@grpc/grpc-js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { grpcHealthV1, otpV1 } from '@vaxguard/proto';
import { createServiceClient, type ServiceClient } from './service-client';

// Nothing listens here: these tests never get as far as a connection.
const options = { address: '127.0.0.1:9', clientId: 'svc-identity', secret: 'x'.repeat(24) };

describe('createServiceClient', () => {
  it('refuses bad options at construction, naming each', () => {
    expect(() =>
      createServiceClient(otpV1.OtpServiceService, {
        address: 'nowhere',
        clientId: '',
        secret: '',
        deadlineMs: Infinity,
        retry: { maxAttempts: 0 },
      }),
    ).toThrow(
      'service client: address must be host:port, a comma-separated list of ip:port (one per instance), or dns:///name:port (got "nowhere"); clientId and secret are required; ' +
        'deadlineMs must be a positive, finite number of milliseconds (got Infinity); ' +
        'retry.maxAttempts must be a whole number of at least 1 (got 0)',
    );
  });

  it('refuses a call that would set the credentials itself, has no bounded deadline, or no method', async () => {
    const otp = createServiceClient(otpV1.OtpServiceClient, options);
    try {
      const impersonating = new Metadata();
      impersonating.set('authorization', 'Bearer someone-elses-secret');
      await expect(
        otp.call('getSigningKeys', {}, { idempotent: true, metadata: impersonating }),
      ).rejects.toThrow(
        'service client: call metadata must not set authorization; the client sends its own credentials',
      );
      await expect(
        otp.call('getSigningKeys', {}, { idempotent: true, deadlineMs: Number.NaN }),
      ).rejects.toThrow('deadlineMs must be a positive, finite number');
      await expect(
        otp.call('toString' as never, {} as never, { idempotent: true }),
      ).rejects.toThrow('service client: toString is not a unary method of this service');
    } finally {
      otp.close();
    }
  });

  it('fails a call after close with UNAVAILABLE, without waiting', async () => {
    const otp = createServiceClient(otpV1.OtpServiceService, options);
    otp.close();
    await expect(otp.call('getSigningKeys', {}, { idempotent: true })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'the service client is closed',
    });
  });

  it('is typed by the service: unary and streaming method names, their requests and responses', () => {
    type Otp = ServiceClient<typeof otpV1.OtpServiceService>;
    expectTypeOf<Parameters<Otp['call']>[0]>().toEqualTypeOf<
      | 'generateOtp'
      | 'resendOtp'
      | 'confirmOtp'
      | 'getSigningKeys'
      | 'revokeToken'
      | 'issueSecretCodeGrant'
      | 'listMyConsents'
      | 'withdrawConsent'
    >();
    // The generated client class gives the same typed client as its definition.
    const otp = createServiceClient(otpV1.OtpServiceClient, options);
    otp.close();
    expectTypeOf(otp).toEqualTypeOf<Otp>();
    expectTypeOf(otp.call<'confirmOtp'>)
      .parameter(1)
      .toEqualTypeOf<otpV1.ConfirmOtpRequest>();
    expectTypeOf(otp.call<'confirmOtp'>).returns.resolves.toEqualTypeOf<otpV1.ConfirmOtpResponse>();
    // Health's streaming Watch is not a call: it is a stream, and the only one.
    type Health = ServiceClient<typeof grpcHealthV1.HealthService>;
    expectTypeOf<Parameters<Health['call']>[0]>().toEqualTypeOf<'check' | 'list'>();
    expectTypeOf<Parameters<Health['stream']>[0]>().toEqualTypeOf<'watch'>();
    const health: Health = createServiceClient(grpcHealthV1.HealthService, options);
    health.close();
    expectTypeOf(health.stream<'watch'>)
      .parameter(1)
      .toEqualTypeOf<grpcHealthV1.HealthCheckRequest>();
    expectTypeOf(health.stream<'watch'>).returns.toEqualTypeOf<
      AsyncIterable<grpcHealthV1.HealthCheckResponse>
    >();
  });
});
