import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { startRpcServerSpan } from '@vaxguard/tracing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MemoryLogSink } from './logger';

const provider = new TracerProvider();

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

describe('log lines and traces', () => {
  it('carry the trace id of the call they were written for, and keep scrubbing what they say', async () => {
    const sink = new MemoryLogSink();
    const logger = createLogger({ service: 'identity', sink });
    const call = startRpcServerSpan(
      '/vaxguard.identity.v1.IdentityService/GetBeneficiary',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    await context.with(call.context, async () => {
      await Promise.resolve();
      logger.info('lookup for 9876543210 refused', { mobile: '9876543210' });
    });
    call.end(0);
    logger.info('outside any call');
    const [inside, outside] = sink.records();
    expect(inside?.['trace_id']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(sink.text()).not.toContain('9876543210');
    expect(outside).not.toHaveProperty('trace_id');
  });
});
