import { describe, expect, it } from 'vitest';
import {
  currentCallBudget,
  DEADLINE_PROPAGATION_MARGIN_MS,
  outgoingDeadlineMs,
  outsideAnyCall,
  runOnBehalfOf,
  type CallBudget,
} from './call-context';

const NOW = Date.parse('2026-12-07T12:00:00Z');

describe('outgoingDeadlineMs', () => {
  it('leaves the margin of what the caller has left, when that is shorter than the client’s own', () => {
    expect(outgoingDeadlineMs(new Date(NOW + 800), NOW, 5_000)).toBe(
      800 - DEADLINE_PROPAGATION_MARGIN_MS,
    );
  });

  it('keeps the client’s own deadline when the caller has longer, or set none', () => {
    expect(outgoingDeadlineMs(new Date(NOW + 60_000), NOW, 5_000)).toBe(5_000);
    expect(outgoingDeadlineMs(undefined, NOW, 5_000)).toBe(5_000);
  });

  it('is zero or less when the caller has no more than the margin left', () => {
    expect(outgoingDeadlineMs(new Date(NOW + DEADLINE_PROPAGATION_MARGIN_MS), NOW, 5_000)).toBe(0);
    expect(outgoingDeadlineMs(new Date(NOW - 10), NOW, 5_000)).toBeLessThan(0);
  });
});

describe('the call work is done for', () => {
  const budget: CallBudget = { deadline: new Date(NOW), signal: new AbortController().signal };

  it('follows the work across awaits and timers, and is gone outside it', async () => {
    expect(currentCallBudget()).toBeUndefined();
    const seen = await runOnBehalfOf(budget, async () => {
      await Promise.resolve();
      return new Promise((resolve) => setTimeout(() => resolve(currentCallBudget()), 1));
    });
    expect(seen).toBe(budget);
    expect(currentCallBudget()).toBeUndefined();
  });

  it('is none for work shared by several calls', () => {
    runOnBehalfOf(budget, () => {
      expect(outsideAnyCall(() => currentCallBudget())).toBeUndefined();
      expect(currentCallBudget()).toBe(budget);
    });
  });
});
