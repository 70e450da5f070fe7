import { describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import { maskMobile, mobileBlindIndex, parseMobile } from './mobile';

describe('parseMobile', () => {
  it.each(['9876543210', '+919876543210', '91 98765 43210', '+91-98765-43210', ' 6000000000 '])(
    'accepts %s',
    (input) => {
      expect(parseMobile(input)).toMatch(/^[6-9]\d{9}$/);
    },
  );

  it.each(['5876543210', '987654321', '98765432101', '+449876543210', 'phone', ''])(
    'refuses %s without echoing it',
    (input) => {
      let caught: unknown;
      try {
        parseMobile(input);
      } catch (error) {
        caught = error;
      }
      expect(isVaxGuardError(caught) && caught.code).toBe('INVALID_ARGUMENT');
      if (input !== '') expect((caught as Error).message).not.toContain(input.trim());
    },
  );
});

describe('mobileBlindIndex', () => {
  const key = Buffer.alloc(32, 3);
  it('is stable for the same number however it was written', () => {
    expect(mobileBlindIndex(key, parseMobile('+91 98765 43210'))).toBe(
      mobileBlindIndex(key, parseMobile('9876543210')),
    );
  });
  it('depends on the key and reveals no digits', () => {
    const mobile = parseMobile('9876543210');
    const index = mobileBlindIndex(key, mobile);
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(index).not.toBe(mobileBlindIndex(Buffer.alloc(32, 4), mobile));
    expect(index).not.toContain('43210');
  });
});

describe('maskMobile', () => {
  it('shows only the last four digits', () => {
    expect(maskMobile(parseMobile('9876543210'))).toBe('XXXXXX3210');
  });
});
