import { describe, expect, it } from 'vitest';
import { parsePhotoId, type PhotoIdKind } from './documents';
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

  it('does not take the first group of a UUID for a passport number', () => {
    const text =
      'txn a1234567-89ab-4cde-8f01-23456789abcd and b7654321-0000-4000-8000-000000000000';
    expect(findSensitive(text)).toEqual([]);
  });
});

describe('documents in every form the identity parsers accept', () => {
  // Each written form parsePhotoId accepts: grouped, hyphenated, in either letter case.
  const accepted: [PhotoIdKind, string, string][] = [
    ['AADHAAR', 'aadhaar', '234123412346'],
    ['AADHAAR', 'aadhaar', '2341 2341 2346'],
    ['AADHAAR', 'aadhaar', '2341-2341-2346'],
    ['PAN', 'pan', 'ABCPE1234F'],
    ['PAN', 'pan', 'abcpe1234f'],
    ['PASSPORT', 'passport', 'K1234567'],
    ['PASSPORT', 'passport', 'k1234567'],
    ['VOTER_ID', 'voter-id', 'ABC1234567'],
    ['VOTER_ID', 'voter-id', 'abc1234567'],
    ['DRIVING_LICENCE', 'driving-licence', 'MH1220110012345'],
    ['DRIVING_LICENCE', 'driving-licence', 'MH12 20110012345'],
    ['DRIVING_LICENCE', 'driving-licence', 'MH-1220110012345'],
    ['DRIVING_LICENCE', 'driving-licence', 'MH-12-2011-0012345'],
    ['DRIVING_LICENCE', 'driving-licence', 'mh 12 2011 0012345'],
  ];

  it.each(accepted)('a %s, redacted as %s, is found when written %j', (kind, found, written) => {
    expect(parsePhotoId(kind, written).kind).toBe(kind);
    for (const text of [`id ${written} given`, `{"note":"${written}"}`, `id=${written}.`]) {
      expect(findSensitive(text).map((hit) => hit.kind)).toContain(found);
      const redacted = redactText(text);
      expect(redacted).toContain(`[REDACTED:${found}]`);
      expect(redacted).not.toMatch(/\d{4}/);
    }
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
    expect(redactValue({ photoIdNumber: 'K1234567 ' })).toEqual({ photoIdNumber: '[REDACTED]' });
    expect(json).not.toContain('9876543210');
    expect(json).not.toContain('ABCDE1234F');
    expect(json).toContain('"count":3');
  });
});
