import { describe, expect, it } from 'vitest';
import { AUDIENCE } from '@vaxguard/tokens';
import {
  DEFAULT_OTP_SMS_TEXT,
  otpSmsText,
  attemptsLeft,
  CLIENT_QUOTA_BUCKET_MS,
  CLIENT_QUOTA_WINDOW_MS,
  clientQuotaBucket,
  codeExpiresAt,
  codeMatches,
  DEFAULT_CLIENT_QUOTA_PER_MINUTE,
  DEFAULT_SIGNING_KEY_ROTATION_MS,
  generateCode,
  hashCode,
  isLocked,
  isRotationDue,
  isWellFormedCode,
  KEY_RETIREMENT_MARGIN_MS,
  keyRetiresAt,
  LONGEST_TOKEN_TTL_MS,
  MAX_CONFIRM_ATTEMPTS,
  MAX_SENDS_PER_TXN,
  MOBILE_LOCKOUT_FAILURES,
  MOBILE_LOCKOUT_MS,
  MOBILE_SEND_QUOTAS,
  NIST_MIN_OTP_DIGITS,
  OTP_CODE_SPACE,
  OTP_DIGITS,
  OTP_EXPIRY_MS,
  quotaRetryAfterMs,
  reachesLockout,
  RESEND_COOLDOWN_MS,
  resendAvailableAt,
  TOKEN_POLICY,
  TXN_MAX_LIFETIME_MS,
  txnHasOutlived,
  windowStart,
} from './otp-rules';

const MINUTE = 60_000;
const t0 = new Date('2026-11-22T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const key = Buffer.alloc(32, 7);

describe('code rules', () => {
  it('codes are 6 decimal digits: 10^6 values, about 19.93 bits, which NIST counts as "approximately 20 bits"', () => {
    expect(OTP_DIGITS).toBe(6);
    expect(OTP_DIGITS).toBeGreaterThanOrEqual(NIST_MIN_OTP_DIGITS);
    expect(OTP_CODE_SPACE).toBe(1_000_000);
    const bits = Math.log2(OTP_CODE_SPACE);
    expect(bits).toBeCloseTo(19.93, 2);
    // Honest: slightly under 20 bits; NIST's own wording is "at least 6 decimal digits".
    expect(bits).toBeLessThan(20);
    expect(Math.round(bits)).toBe(20);
  });

  it('draws codes from the CSPRNG over the whole space, zero-padded to 6 digits', () => {
    const asked: number[] = [];
    expect(generateCode((max) => (asked.push(max), 42))).toBe('000042');
    expect(generateCode(() => 999_999)).toBe('999999');
    expect(asked).toEqual([OTP_CODE_SPACE]);
    const codes = Array.from({ length: 200 }, () => generateCode());
    expect(codes.every((code) => /^\d{6}$/.test(code))).toBe(true);
    expect(new Set(codes).size).toBeGreaterThan(190);
  });

  it('accepts only exactly 6 digits as a well-formed code', () => {
    expect(isWellFormedCode('012345')).toBe(true);
    for (const bad of ['12345', '1234567', '12345a', ' 123456', '', '１２３４５６']) {
      expect(isWellFormedCode(bad)).toBe(false);
    }
  });

  it('stores a keyed hash bound to the transaction, and compares it in constant time', () => {
    const hash = hashCode(key, 'txn-1', '123456');
    expect(hash).toHaveLength(32);
    expect(hash.toString('hex')).not.toContain('123456');
    expect(codeMatches(key, 'txn-1', '123456', hash)).toBe(true);
    expect(codeMatches(key, 'txn-1', '123457', hash)).toBe(false);
    expect(codeMatches(key, 'txn-2', '123456', hash)).toBe(false);
    expect(codeMatches(Buffer.alloc(32, 8), 'txn-1', '123456', hash)).toBe(false);
    expect(codeMatches(key, 'txn-1', '123456', Buffer.alloc(3))).toBe(false);
  });
});

describe('time rules', () => {
  it('a code expires 3 minutes after it is sent', () => {
    expect(OTP_EXPIRY_MS).toBe(3 * MINUTE);
    expect(codeExpiresAt(t0, t0)).toEqual(at(3 * MINUTE));
  });

  it('no code outlives its transaction, and no transaction lives more than 10 minutes (NIST)', () => {
    expect(TXN_MAX_LIFETIME_MS).toBe(10 * MINUTE);
    expect(codeExpiresAt(at(9 * MINUTE), t0)).toEqual(at(10 * MINUTE));
    expect(txnHasOutlived(t0, at(10 * MINUTE - 1))).toBe(false);
    expect(txnHasOutlived(t0, at(10 * MINUTE))).toBe(true);
  });

  it('a resend is possible 30 seconds after the previous send', () => {
    expect(RESEND_COOLDOWN_MS).toBe(30_000);
    expect(resendAvailableAt(t0)).toEqual(at(30_000));
  });
});

describe('attempt rules', () => {
  it('allows 3 confirm attempts per transaction', () => {
    expect(MAX_CONFIRM_ATTEMPTS).toBe(3);
    expect([0, 1, 2, 3, 4].map(attemptsLeft)).toEqual([3, 2, 1, 0, 0]);
  });

  it('sends at most 3 codes per transaction (first + 2 resends)', () => {
    expect(MAX_SENDS_PER_TXN).toBe(3);
  });
});

describe('quota rules', () => {
  it('per mobile: 5 per 15 minutes and 20 per 24 hours', () => {
    expect(MOBILE_SEND_QUOTAS).toEqual([
      { name: 'MOBILE_QUOTA_15M', windowMs: 15 * MINUTE, limit: 5 },
      { name: 'MOBILE_QUOTA_24H', windowMs: 24 * 60 * MINUTE, limit: 20 },
    ]);
  });

  it('per client: tens of codes a minute unless configured, so a flood is cut off early', () => {
    expect(DEFAULT_CLIENT_QUOTA_PER_MINUTE).toBeLessThan(100);
    expect(CLIENT_QUOTA_WINDOW_MS).toBe(MINUTE);
  });

  it('a sliding window admits a send until the limit, then says when the oldest counted send leaves it', () => {
    const quota = { name: 'Q', windowMs: 15 * MINUTE, limit: 5 };
    const now = at(10 * MINUTE);
    expect(windowStart(quota, now)).toEqual(at(-5 * MINUTE));
    expect(quotaRetryAfterMs(quota, undefined, now)).toBe(0);
    // The 5th most recent send was at t0 + 1 min: the window frees at t0 + 16 min.
    expect(quotaRetryAfterMs(quota, at(MINUTE), now)).toBe(6 * MINUTE);
    // Never zero while exhausted, so a refusal always carries a retry-after.
    expect(quotaRetryAfterMs(quota, at(-5 * MINUTE), now)).toBe(1);
    // Never more than the window, even when the counted send is stamped after now.
    expect(quotaRetryAfterMs(quota, at(10 * MINUTE + 400), now)).toBe(15 * MINUTE);
  });

  it('per client: sends are counted per second, so a send counts from the start of its second', () => {
    expect(CLIENT_QUOTA_BUCKET_MS).toBe(1_000);
    expect(clientQuotaBucket(at(0))).toEqual(at(0));
    expect(clientQuotaBucket(at(999))).toEqual(at(0));
    expect(clientQuotaBucket(at(1_000))).toEqual(at(1_000));
    expect(clientQuotaBucket(at(61_500))).toEqual(at(61_000));
    // A minute's window: at most 60 counters to add up, whatever the limit.
    expect(CLIENT_QUOTA_WINDOW_MS / CLIENT_QUOTA_BUCKET_MS).toBe(60);
  });
});

describe('lockout rules (NIST: at most 100 consecutive failures)', () => {
  it('locks a mobile for an hour at its 100th consecutive failure', () => {
    expect(MOBILE_LOCKOUT_FAILURES).toBe(100);
    expect(MOBILE_LOCKOUT_MS).toBe(60 * MINUTE);
    expect(reachesLockout(99, MOBILE_LOCKOUT_FAILURES)).toBe(false);
    expect(reachesLockout(100, MOBILE_LOCKOUT_FAILURES)).toBe(true);
  });

  it('a lock holds until its end', () => {
    expect(isLocked(undefined, t0)).toBe(false);
    expect(isLocked(at(1), t0)).toBe(true);
    expect(isLocked(t0, t0)).toBe(false);
  });
});

describe('token rules', () => {
  it('citizens get 15 minutes, consent grants and staff second factors 5, each for its own audience', () => {
    expect(TOKEN_POLICY.CITIZEN_LOGIN).toEqual({
      audience: AUDIENCE.citizen,
      ttlMs: 15 * MINUTE,
      scopes: ['beneficiary:read', 'certificate:read'],
    });
    expect(TOKEN_POLICY.CONSENT).toEqual({
      audience: AUDIENCE.consent,
      ttlMs: 5 * MINUTE,
      scopes: ['beneficiary:access'],
    });
    expect(TOKEN_POLICY.STAFF_LOGIN).toEqual({
      audience: AUDIENCE.staff,
      ttlMs: 15 * MINUTE,
      scopes: ['staff'],
    });
    expect(TOKEN_POLICY.SECRET_CODE).toEqual({
      audience: AUDIENCE.consent,
      ttlMs: 5 * MINUTE,
      scopes: ['beneficiary:access'],
    });
    expect(LONGEST_TOKEN_TTL_MS).toBe(15 * MINUTE);
  });

  it('rotates the signing key when none is active or the active one is 24 hours old', () => {
    expect(DEFAULT_SIGNING_KEY_ROTATION_MS).toBe(24 * 60 * MINUTE);
    expect(isRotationDue(undefined, t0, DEFAULT_SIGNING_KEY_ROTATION_MS)).toBe(true);
    expect(
      isRotationDue(t0, at(DEFAULT_SIGNING_KEY_ROTATION_MS - 1), DEFAULT_SIGNING_KEY_ROTATION_MS),
    ).toBe(false);
    expect(
      isRotationDue(t0, at(DEFAULT_SIGNING_KEY_ROTATION_MS), DEFAULT_SIGNING_KEY_ROTATION_MS),
    ).toBe(true);
  });

  it('keeps a rotated key published until every token it can have signed has expired', () => {
    const retires = keyRetiresAt(t0);
    // A token signed at the very moment of rotation lives LONGEST_TOKEN_TTL_MS.
    expect(retires.getTime()).toBeGreaterThan(t0.getTime() + LONGEST_TOKEN_TTL_MS);
    expect(retires).toEqual(at(LONGEST_TOKEN_TTL_MS + KEY_RETIREMENT_MARGIN_MS));
  });
});

describe('OTP message text', () => {
  it('puts the code where the template says, and the default names the expiry and fits one SMS', () => {
    expect(otpSmsText('Code {code}. Again: {code}', '012345')).toBe('Code 012345. Again: 012345');
    const text = otpSmsText(DEFAULT_OTP_SMS_TEXT, '012345');
    expect(text).toBe(
      '012345 is your VaxGuard verification code. It is valid for 3 minutes. Do not share it with anyone.',
    );
    expect(text.length).toBeLessThanOrEqual(160);
  });
});
