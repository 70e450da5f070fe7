import { describe, expect, it } from 'vitest';
import { findSensitive } from '@vaxguard/pii';
import { createLogger, MemoryLogSink } from './logger';

const fixedClock = () => new Date('2026-11-22T10:00:00.000Z');

describe('createLogger', () => {
  it('writes one JSON line per call with service, level and fields', () => {
    const sink = new MemoryLogSink();
    const logger = createLogger({ service: 'otp', sink, clock: fixedClock });
    logger.child({ requestId: 'r-1' }).info('otp generated', { purpose: 'CITIZEN_LOGIN' });
    expect(sink.records()).toEqual([
      {
        time: '2026-11-22T10:00:00.000Z',
        level: 'info',
        service: 'otp',
        msg: 'otp generated',
        requestId: 'r-1',
        purpose: 'CITIZEN_LOGIN',
      },
    ]);
  });

  it('drops lines below its level', () => {
    const sink = new MemoryLogSink();
    const logger = createLogger({ service: 'otp', sink, level: 'warn' });
    logger.info('quiet');
    logger.warn('loud');
    expect(sink.records().map((r) => r['msg'])).toEqual(['loud']);
  });

  it('never writes a phone number, identity number, OTP or token, wherever it hides', () => {
    const sink = new MemoryLogSink();
    const logger = createLogger({ service: 'identity', sink });
    const token = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJhYmMifQ.AAAAsignature';
    const cause = new Error('insert failed for 9876543210 with aadhaar 2345 6789 0123');
    logger.error(`confirm failed for +91 98765 43210 code 482913 token ${token}`, {
      mobile: '9876543210',
      otp: '482913',
      authorization: `Bearer ${token}`,
      request: { note: 'PAN ABCDE1234F, passport K1234567, EPIC ABC1234567' },
      err: cause,
    });
    const text = sink.text();
    for (const secret of [
      '9876543210',
      '98765 43210',
      '482913',
      token,
      '2345 6789 0123',
      'ABCDE1234F',
      'K1234567',
      'ABC1234567',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(findSensitive(text)).toEqual([]);
    // The line is still useful: it says what happened and keeps the error's shape.
    const [record] = sink.records();
    expect(record?.['msg']).toContain('confirm failed for [REDACTED:mobile]');
    expect((record?.['err'] as Record<string, unknown>)['type']).toBe('Error');
  });
});
