import { describe, expect, it } from 'vitest';
import {
  DEDUP_WINDOW_MS,
  entriesArchived,
  ingestedNoEarlierThan,
  MAX_EVENT_AGE_MS,
  tooOldToAppend,
} from './log-rules';

const NOW = new Date(Date.UTC(2026, 11, 7, 21, 0, 0));
const ago = (ms: number) => new Date(NOW.getTime() - ms);

describe("the log's storage rules", () => {
  it('appends an event made within the dedup window less its margin, and refuses one older', () => {
    expect(tooOldToAppend(ago(0), NOW)).toBe(false);
    expect(tooOldToAppend(ago(6 * 24 * 3_600_000), NOW)).toBe(false);
    expect(tooOldToAppend(ago(MAX_EVENT_AGE_MS), NOW)).toBe(false);
    expect(tooOldToAppend(ago(MAX_EVENT_AGE_MS + 1), NOW)).toBe(true);
    expect(tooOldToAppend(ago(8 * 24 * 3_600_000), NOW)).toBe(true);
    // Refused before its id can have left the window, whatever the margin.
    expect(MAX_EVENT_AGE_MS).toBeLessThan(DEDUP_WINDOW_MS);
    // An event from a producer whose clock runs ahead is not too old.
    expect(tooOldToAppend(new Date(NOW.getTime() + 60_000), NOW)).toBe(false);
  });

  it('starts a time filter at checkpoints signed a slack before it', () => {
    const from = new Date(Date.UTC(2026, 11, 7, 20, 0, 0));
    const bound = ingestedNoEarlierThan(from);
    expect(bound.getTime()).toBeLessThan(from.getTime());
    expect(from.getTime() - bound.getTime()).toBeGreaterThanOrEqual(60_000);
  });

  it('refuses archived entries with FAILED_PRECONDITION and a reason that names the rule', () => {
    const error = entriesArchived(12, 1_000_000);
    expect(error).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'ENTRIES_ARCHIVED' });
    expect(error.message).toContain('1000000');
  });
});
