import { isVaxGuardError, VaxGuardError } from '@vaxguard/errors';
import { describe, expect, it } from 'vitest';
import {
  CALL_STATEMENT_TIMEOUT_CEILING_MS,
  failureForCall,
  statementTimeoutMs,
  statementTimeoutSetting,
} from './call-budget';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const at = (msFromNow: number) => new Date(NOW + msFromNow);

describe('statementTimeoutMs', () => {
  it('is the time the call has left, rounded up to a whole millisecond', () => {
    expect(statementTimeoutMs(at(1_500), NOW)).toBe(1_500);
    // performance-clock readings have fractions; a part of a millisecond left counts whole
    expect(statementTimeoutMs(at(2), NOW + 0.5)).toBe(2);
  });

  it('is the ceiling for a call with no deadline, or one further off', () => {
    expect(statementTimeoutMs(undefined, NOW)).toBe(CALL_STATEMENT_TIMEOUT_CEILING_MS);
    expect(statementTimeoutMs(at(10 * 60_000), NOW)).toBe(CALL_STATEMENT_TIMEOUT_CEILING_MS);
  });

  it('is zero or less once the deadline has passed (never set: PostgreSQL reads 0 as none)', () => {
    expect(statementTimeoutMs(at(0), NOW)).toBeLessThanOrEqual(0);
    expect(statementTimeoutMs(at(-250), NOW)).toBeLessThanOrEqual(0);
  });

  it('is set for the transaction only, in whole milliseconds, for its statements and its idle waits', () => {
    expect(statementTimeoutSetting(1_234)).toBe(
      'SET LOCAL statement_timeout = 1234; SET LOCAL idle_in_transaction_session_timeout = 1234',
    );
  });
});

describe('failureForCall', () => {
  const live = { deadline: at(1_000), signal: new AbortController().signal };

  it('makes a statement PostgreSQL cancelled at the timeout DEADLINE_EXCEEDED, never INTERNAL', () => {
    const cancelled = Object.assign(new Error('canceling statement due to statement timeout'), {
      code: '57014',
    });
    const failure = failureForCall(cancelled, live);
    expect(isVaxGuardError(failure) && failure.code).toBe('DEADLINE_EXCEEDED');
    expect((failure as VaxGuardError).reason).toBe('STATEMENT_TIMEOUT');
    expect((failure as VaxGuardError).message).toMatch(/statement_timeout/);
  });

  it('ends work whose caller has gone with the reason it went', () => {
    const controller = new AbortController();
    const refused = new VaxGuardError('PERMISSION_DENIED', 'the partner is suspended', {
      reason: 'PARTNER_SUSPENDED',
    });
    controller.abort(refused);
    const failure = failureForCall(new Error('whatever the statement said'), {
      deadline: undefined,
      signal: controller.signal,
    });
    expect(failure).toBe(refused);
  });

  it('leaves any other failure as it was', () => {
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(failureForCall(unique, live)).toBe(unique);
  });
});
