import { ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { startPublishSpan, startRpcServerSpan } from './spans';
import { currentTraceId } from './traceparent';
import { parseOtlpEndpoint, startTracing, TRACING_OFF } from './tracing';

describe('tracing off', () => {
  it('is what a service without OTEL_EXPORTER_OTLP_ENDPOINT runs: nothing traced, nothing sent on', async () => {
    expect(await startTracing({ service: 'otp', endpoint: undefined })).toBe(TRACING_OFF);
    const call = startRpcServerSpan('/vaxguard.otp.v1.OtpService/GenerateOtp', undefined);
    expect(call.context).toBe(ROOT_CONTEXT);
    expect(call.traceparent).toBeUndefined();
    call.end(0);
    expect(currentTraceId()).toBeUndefined();
    const published = startPublishSpan(undefined, { topic: 't', eventType: 'E', eventId: 'e' });
    expect(published.traceparent).toBeUndefined();
  });
});

describe('parseOtlpEndpoint', () => {
  it('takes the collector as scheme://host:port', () => {
    expect(parseOtlpEndpoint('http://127.0.0.1:4317')).toBe('http://127.0.0.1:4317');
    expect(parseOtlpEndpoint('https://otel-collector.observability:4317/')).toBe(
      'https://otel-collector.observability:4317',
    );
  });

  it.each([
    ['not a URL', '127.0.0.1:4317'],
    ['another scheme', 'grpc://127.0.0.1:4317'],
    ['a path', 'http://127.0.0.1:4318/v1/traces'],
    ['credentials', 'http://user:secret@127.0.0.1:4317'],
  ])('refuses %s, saying what it wants', (_, raw) => {
    expect(() => parseOtlpEndpoint(raw)).toThrow(/must be/);
  });
});
