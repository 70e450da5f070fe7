import { describe, expect, it } from 'vitest';
import { findSensitive, redactText, redactValue } from './redact';

describe('redactText', () => {
  it.each([
    ['mobile', 'sent to 9876543210 now'],
    ['mobile', 'sent to +91 98765 43210 now'],
    ['aadhaar', 'aadhaar 2345 6789 0123 given'],
    ['pan', 'pan ABCDE1234F given'],
    ['passport', 'passport K1234567 given'],
    ['voter-id', 'epic ABC1234567 given'],
    ['driving-licence', 'dl MH12 20110012345 given'],
    ['otp', 'your code is 042917.'],
    ['token', 'bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
  ])('removes a %s', (kind, text) => {
    const redacted = redactText(text);
    expect(redacted).toContain(`[REDACTED:${kind}]`);
    expect(findSensitive(redacted)).toEqual([]);
  });

  it('leaves ids, hashes, timestamps and ordinary numbers alone', () => {
    const text =
      'txn 3f2a9c10-1234-4abc-9def-123456abcdef id 60486927-3602-4937-9123-987654321012 index a1b2c3123456d4 at 2026-11-22T10:57:45.123456Z port 50051 took 1200ms';
    expect(redactText(text)).toBe(text);
  });
});

describe('redactValue', () => {
  it('blanks sensitive keys and scrubs nested strings and errors', () => {
    const error = new Error('duplicate key (mobile)=(9876543210)');
    const value = redactValue({
      otp: '123456',
      nested: { note: 'call 9876543210', count: 3 },
      list: ['ok', 'ABCDE1234F'],
      err: error,
    }) as Record<string, unknown>;
    const json = JSON.stringify(value);
    expect(value['otp']).toBe('[REDACTED]');
    expect(json).not.toContain('9876543210');
    expect(json).not.toContain('ABCDE1234F');
    expect(json).toContain('"count":3');
  });
});
