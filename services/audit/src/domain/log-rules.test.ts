import { describe, expect, it } from 'vitest';
import {
  checkpointDue,
  decodePageToken,
  encodePageToken,
  entriesPageSize,
  MAX_ENTRIES_PAGE,
  parsePosition,
  requireAuditor,
} from './log-rules';

const POLICY = { everyEntries: 10, intervalMs: 1_000 };
const at = (ms: number) => new Date(Date.UTC(2026, 11, 1) + ms);

describe('audit log rules', () => {
  it('signs the first checkpoint at once, then after N entries or T ms of growth, never an unchanged tree', () => {
    expect(checkpointDue(0, undefined, at(0), POLICY)).toBe(true);
    const last = { size: 5, createdAt: at(0) };
    expect(checkpointDue(14, last, at(999), POLICY)).toBe(false);
    expect(checkpointDue(15, last, at(1), POLICY)).toBe(true);
    expect(checkpointDue(6, last, at(1_000), POLICY)).toBe(true);
    expect(checkpointDue(5, last, at(60_000), POLICY)).toBe(false);
  });

  it('lets only auditors and platform admins read entries', () => {
    expect(requireAuditor({ staffId: 's', role: 'AUDITOR' }).staffId).toBe('s');
    expect(requireAuditor({ staffId: 's', role: 'PLATFORM_ADMIN' }).role).toBe('PLATFORM_ADMIN');
    for (const reader of [undefined, { staffId: 's', role: 'VACCINATOR' }]) {
      expect(() => requireAuditor(reader)).toThrow(
        expect.objectContaining({ code: 'PERMISSION_DENIED', reason: 'NOT_AUDITOR' }),
      );
    }
  });

  it('pages with opaque tokens that refuse anything it did not give', () => {
    expect(entriesPageSize(0)).toBeGreaterThan(0);
    expect(entriesPageSize(10 * MAX_ENTRIES_PAGE)).toBe(MAX_ENTRIES_PAGE);
    expect(decodePageToken(encodePageToken({ next: 40, end: 90 }))).toEqual({ next: 40, end: 90 });
    for (const token of ['x', encodePageToken({ next: 9, end: 3 }), 'eyJuIjotMX0']) {
      expect(() => decodePageToken(token)).toThrow(
        expect.objectContaining({ reason: 'BAD_PAGE_TOKEN' }),
      );
    }
  });

  it('reads uint64 positions only where JavaScript counts exactly', () => {
    expect(parsePosition('0', 'index')).toBe(0);
    expect(parsePosition('9007199254740991', 'index')).toBe(2 ** 53 - 1);
    // A uint64 past 2^53 is past the end of any log: OUT_OF_RANGE; text that is no uint64
    // at all is INVALID_ARGUMENT.
    expect(() => parsePosition('9007199254740992', 'index')).toThrow(
      expect.objectContaining({ code: 'OUT_OF_RANGE', reason: 'OUT_OF_RANGE' }),
    );
    for (const text of ['-1', '01', '1e3']) {
      expect(() => parsePosition(text, 'index')).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', reason: 'OUT_OF_RANGE' }),
      );
    }
  });
});
