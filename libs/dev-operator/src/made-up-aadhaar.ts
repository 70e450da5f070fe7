import { randomInt } from 'node:crypto';
import { verhoeffCheckDigit } from '@vaxguard/pii';

// An Aadhaar number is 11 digits, the first 2-9, and their Verhoeff check digit: there are
// 8 x 10^10 such first eleven digits, from 20000000000 up.
const FIRST_BODY = 20_000_000_000;
/** How many made-up Aadhaar numbers there are: `madeUpAadhaar(n)` takes n from 0 to this - 1. */
export const MADE_UP_AADHAAR_COUNT = 80_000_000_000;
// n -> n * STRIDE mod COUNT is one-to-one because the stride (a prime) shares no factor
// with 8 x 10^10; a stride rather than n itself makes the numbers of neighbouring n
// differ in their last four digits, the ones a masked number shows.
const STRIDE = 7_919;

/**
 * A made-up Aadhaar number that identity accepts (12 digits, the first 2-9, a valid
 * Verhoeff check digit): a different one for each `n` from 0 to MADE_UP_AADHAAR_COUNT - 1.
 */
export function madeUpAadhaar(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n >= MADE_UP_AADHAAR_COUNT) {
    throw new RangeError(`madeUpAadhaar takes an integer from 0 to ${MADE_UP_AADHAAR_COUNT - 1}`);
  }
  const body = String(FIRST_BODY + ((n * STRIDE) % MADE_UP_AADHAAR_COUNT));
  return body + verhoeffCheckDigit(body);
}

/**
 * A made-up Aadhaar number drawn at random, for data that outlives a run (npm start on
 * local infrastructure keeps what earlier starts registered), where counting from 0
 * again would meet the numbers registered before.
 */
export function randomMadeUpAadhaar(): string {
  return madeUpAadhaar(randomInt(0, MADE_UP_AADHAAR_COUNT));
}
