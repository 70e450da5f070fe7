import { randomBytes } from 'node:crypto';
import { invalidArgument } from '@vaxguard/errors';

/**
 * A beneficiary's reference: the only name any service, token, event or log uses for a
 * person. `bnf_` and 26 lowercase Crockford base32 characters encoding 128 random bits,
 * so references cannot be enumerated or guessed (at least 96 random bits, MISSION.md).
 *
 * Every service checks the format strictly wherever it accepts a reference, so nothing
 * else (a phone or identity number) can ride in a reference field. The format is one
 * word of letters, digits and `_` beginning with letters, so no redaction pattern (mobile,
 * Aadhaar, OTP, documents) matches any part of it.
 */
export type BeneficiaryRef = string & { readonly __brand: 'BeneficiaryRef' };

export const BENEFICIARY_REF_PREFIX = 'bnf_';
export const BENEFICIARY_REF_RANDOM_BYTES = 16;

/** Crockford's base32, lower case: no i, l, o or u, so no letter is mistaken for a digit. */
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
/** 26 characters of 5 bits hold 130 bits: the first carries the top 3 of the 128 (0-7). */
const ENCODED_LENGTH = 26;
const FORMAT = /^bnf_[0-7][0-9a-hjkmnp-tv-z]{25}$/;

/** A fresh reference from the CSPRNG. `random` is replaceable only to test the encoding. */
export function newBeneficiaryRef(random: (size: number) => Buffer = randomBytes): BeneficiaryRef {
  let value = BigInt(`0x${random(BENEFICIARY_REF_RANDOM_BYTES).toString('hex')}`);
  let encoded = '';
  for (let i = 0; i < ENCODED_LENGTH; i++) {
    encoded = CROCKFORD[Number(value & 31n)]! + encoded;
    value >>= 5n;
  }
  return `${BENEFICIARY_REF_PREFIX}${encoded}` as BeneficiaryRef;
}

/** Whether a value is exactly a reference: no spaces, no upper case, no Crockford aliases. */
export function isBeneficiaryRef(value: unknown): value is BeneficiaryRef {
  return typeof value === 'string' && FORMAT.test(value);
}

/** Checks a reference a caller sent; the refusal does not echo what was sent. */
export function parseBeneficiaryRef(input: string): BeneficiaryRef {
  if (!isBeneficiaryRef(input)) {
    throw invalidArgument(
      'beneficiary_ref must be bnf_ followed by 26 lowercase Crockford base32 characters',
      { reason: 'INVALID_BENEFICIARY_REF' },
    );
  }
  return input;
}
