import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startProcessSpan,
  startPublishSpan,
  startRpcClientSpan,
  startRpcServerSpan,
} from './spans';
import { currentTraceId, currentTraceparent, parseTraceparent } from './traceparent';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const GENERATE_OTP = '/vaxguard.otp.v1.OtpService/GenerateOtp';

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const finished = () => exporter.getFinishedSpans();

describe('spans across gRPC', () => {
  it("continues the caller's trace: the server span is the child of the span its traceparent names", () => {
    const call = startRpcServerSpan(GENERATE_OTP, CALLER);
    call.end(0);
    const [span] = finished();
    expect(span?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(span?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span?.kind).toBe(SpanKind.SERVER);
    expect(span?.name).toBe('vaxguard.otp.v1.OtpService/GenerateOtp');
    expect(span?.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.service': 'vaxguard.otp.v1.OtpService',
      'rpc.method': 'vaxguard.otp.v1.OtpService/GenerateOtp',
      'rpc.status_code': 'OK',
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('starts a new trace for a call that carries none, or a malformed one', () => {
    startRpcServerSpan(GENERATE_OTP, undefined).end(0);
    startRpcServerSpan(GENERATE_OTP, 'not-a-traceparent').end(0);
    for (const span of finished()) expect(span.parentSpanContext).toBeUndefined();
  });

  it("marks a server span failed for the server's own faults, not for a refusal", () => {
    startRpcServerSpan(GENERATE_OTP, undefined).end(3); // INVALID_ARGUMENT
    startRpcServerSpan(GENERATE_OTP, undefined).end(13); // INTERNAL
    const [refused, failed] = finished();
    expect(refused?.attributes['rpc.status_code']).toBe('INVALID_ARGUMENT');
    expect(refused?.status.code).toBe(SpanStatusCode.UNSET);
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes['error.type']).toBe('INTERNAL');
  });

  it("a call made while serving one is a client span of that call's trace, and sends its own traceparent", () => {
    const served = startRpcServerSpan(GENERATE_OTP, CALLER);
    const client = context.with(served.context, () =>
      startRpcClientSpan('/vaxguard.identity.v1.IdentityService/GetBeneficiary', context.active()),
    );
    const sent = parseTraceparent(client.traceparent);
    client.end(5); // NOT_FOUND: a failure, seen from the client
    served.end(0);
    const [clientSpan, serverSpan] = finished();
    expect(clientSpan?.kind).toBe(SpanKind.CLIENT);
    expect(clientSpan?.parentSpanContext?.spanId).toBe(serverSpan?.spanContext().spanId);
    expect(sent?.spanId).toBe(clientSpan?.spanContext().spanId);
    expect(sent?.traceId).toBe(serverSpan?.spanContext().traceId);
    expect(clientSpan?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('gives the work of a call its trace id and traceparent, and none outside it', () => {
    expect(currentTraceId()).toBeUndefined();
    expect(currentTraceparent()).toBeUndefined();
    const served = startRpcServerSpan(GENERATE_OTP, CALLER);
    const seen = context.with(served.context, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { traceId: currentTraceId(), traceparent: currentTraceparent() };
    });
    return seen.then((inside) => {
      served.end(0);
      expect(inside.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(parseTraceparent(inside.traceparent)?.spanId).toBe(
        finished()[0]?.spanContext().spanId,
      );
    });
  });
});

describe('spans through Kafka', () => {
  const message = { topic: 'vaxguard.otp.events', eventType: 'OtpGenerated', eventId: 'e-1' };

  it("chains the outbox row's writer, the relay's publish and the consumer's processing in one trace", () => {
    const published = startPublishSpan(CALLER, message);
    const processed = startProcessSpan(published.traceparent, {
      ...message,
      partition: 2,
      offset: '41',
      consumerGroup: 'audit-log',
    });
    processed.end();
    published.end();
    const [processSpan, publishSpan] = finished();
    expect(publishSpan?.kind).toBe(SpanKind.PRODUCER);
    expect(publishSpan?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(processSpan?.kind).toBe(SpanKind.CONSUMER);
    expect(processSpan?.parentSpanContext?.spanId).toBe(publishSpan?.spanContext().spanId);
    expect(processSpan?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(processSpan?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'vaxguard.otp.events',
      'messaging.destination.partition.id': '2',
      'messaging.consumer.group.name': 'audit-log',
      'vaxguard.event.type': 'OtpGenerated',
    });
  });

  it('makes no span for an event written outside any trace', () => {
    const published = startPublishSpan(undefined, message);
    published.end();
    expect(published.traceparent).toBeUndefined();
    expect(finished()).toEqual([]);
  });

  it('marks a failed publish', () => {
    startPublishSpan(CALLER, message).end(new Error('broker gone'));
    expect(finished()[0]?.status.code).toBe(SpanStatusCode.ERROR);
  });
});
