import { describe, expect, it } from 'vitest';
import { parseAadhaar, verhoeffIsValid } from '@vaxguard/pii';
import { MADE_UP_AADHAAR_COUNT, madeUpAadhaar, randomMadeUpAadhaar } from './made-up-aadhaar';

/** The checks identity makes when a citizen registers the number. */
function isValidAadhaar(aadhaar: string): boolean {
  return /^[2-9]\d{11}$/.test(aadhaar) && verhoeffIsValid(aadhaar);
}

function expectValidAadhaar(aadhaar: string): void {
  expect(isValidAadhaar(aadhaar)).toBe(true);
  expect(parseAadhaar(aadhaar)).toBe(aadhaar);
}

const LAST = MADE_UP_AADHAAR_COUNT - 1;

describe('madeUpAadhaar', () => {
  it.each([0, 1, 2, 9_999, 123_456_789, 10_102_538_452, LAST - 1, LAST])(
    'makes a valid Aadhaar number for n = %i',
    (n) => {
      expectValidAadhaar(madeUpAadhaar(n));
    },
  );

  it('makes the same number for the same n', () => {
    expect(madeUpAadhaar(42)).toBe(madeUpAadhaar(42));
  });

  it('makes a different number for each n, and neighbours differ in their last four digits', () => {
    const consecutive = Array.from({ length: 10_000 }, (_, n) => madeUpAadhaar(n));
    // And n spread over the whole range, up to the last.
    const step = Math.floor(MADE_UP_AADHAAR_COUNT / 10_000);
    const spread = Array.from({ length: 10_000 }, (_, i) =>
      madeUpAadhaar(Math.min(LAST, (i + 1) * step + i)),
    );
    const all = [...consecutive, ...spread];
    expect(all.filter((aadhaar) => !isValidAadhaar(aadhaar))).toEqual([]);
    expect(new Set(all).size).toBe(all.length);
    const sameLastFour = consecutive.filter(
      (aadhaar, n) => n > 0 && aadhaar.slice(-4) === consecutive[n - 1]?.slice(-4),
    );
    expect(sameLastFour).toEqual([]);
  });

  it.each([-1, 0.5, MADE_UP_AADHAAR_COUNT, Number.NaN])('refuses n = %s', (n) => {
    expect(() => madeUpAadhaar(n)).toThrow(RangeError);
  });
});

describe('randomMadeUpAadhaar', () => {
  it('makes valid numbers, different from one draw to the next', () => {
    const drawn = Array.from({ length: 200 }, () => randomMadeUpAadhaar());
    for (const aadhaar of drawn) expectValidAadhaar(aadhaar);
    expect(new Set(drawn).size).toBe(drawn.length);
  });
});
