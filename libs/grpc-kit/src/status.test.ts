import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  invalidArgument,
  isVaxGuardError,
  resourceExhausted,
  VaxGuardError,
} from '@vaxguard/errors';
import { createLogger, MemoryLogSink } from '@vaxguard/logging';
import { fromStatusError, toStatusError } from './status';

describe('toStatusError and fromStatusError', () => {
  const logs = new MemoryLogSink();
  const logger = createLogger({ service: 'status-test', sink: logs });

  it('carry code, message, reason and retry delay across, as the same VaxGuardError', () => {
    const sent = resourceExhausted('too many codes sent for this mobile', 42_500, {
      reason: 'MOBILE_QUOTA_15M',
    });
    const wire = toStatusError(sent, logger, '/m');
    const received = fromStatusError({ ...wire, message: wire.details });
    expect(isVaxGuardError(received)).toBe(true);
    expect([received.code, received.message, received.reason, received.retryAfterMs]).toEqual([
      'RESOURCE_EXHAUSTED',
      'too many codes sent for this mobile',
      'MOBILE_QUOTA_15M',
      42_500,
    ]);
    const plain = fromStatusError(toStatusError(invalidArgument('bad'), logger, '/m'));
    expect([plain.code, plain.reason]).toEqual(['INVALID_ARGUMENT', undefined]);
  });

  it('never sends the message of an INTERNAL error, which goes to the log', () => {
    const wire = toStatusError(
      new VaxGuardError('INTERNAL', 'pool password=hunter2 rejected'),
      logger,
      '/m',
    );
    expect([wire.code, wire.details]).toEqual([status.INTERNAL, 'internal error']);
    expect(JSON.stringify(wire.metadata?.getMap() ?? {})).not.toContain('hunter2');
    expect(logs.text()).toContain('pool password=hunter2 rejected');
  });

  it('turns a status outside VaxGuard’s set into UNAVAILABLE, and a non-status into INTERNAL', () => {
    const cancelled = fromStatusError({
      code: status.CANCELLED,
      details: 'Cancelled on client',
      metadata: new Metadata(),
    });
    expect(cancelled.code).toBe('UNAVAILABLE');
    expect(fromStatusError(new Error('boom')).code).toBe('INTERNAL');
    const same = new VaxGuardError('NOT_FOUND', 'no such token');
    expect(fromStatusError(same)).toBe(same);
  });
});
