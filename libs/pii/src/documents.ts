import { createHmac } from 'node:crypto';
import { invalidArgument } from '@vaxguard/errors';

/**
 * The photo-ID documents a beneficiary may register with, parsed into one normalised
 * form each: upper case, without the spaces or hyphens people type between a number's
 * groups. Every form accepted here is one the redactor (redact.ts) recognises, so a raw
 * number that slipped into a log line would still be caught. Errors name the rule and
 * never echo the number.
 */

export type PhotoIdKind = 'AADHAAR' | 'PAN' | 'PASSPORT' | 'VOTER_ID' | 'DRIVING_LICENCE';
export const PHOTO_ID_KINDS: readonly PhotoIdKind[] = [
  'AADHAAR',
  'PAN',
  'PASSPORT',
  'VOTER_ID',
  'DRIVING_LICENCE',
];

/** 12 digits, the first 2-9, the last a Verhoeff check digit. */
export type AadhaarNumber = string & { readonly __brand: 'AadhaarNumber' };
/** 5 letters, 4 digits, 1 letter; the 4th letter P (an individual). */
export type PanNumber = string & { readonly __brand: 'PanNumber' };
/** A letter, then 7 digits, the first 1-9. */
export type PassportNumber = string & { readonly __brand: 'PassportNumber' };
/** EPIC: 3 letters, then 7 digits. */
export type VoterIdNumber = string & { readonly __brand: 'VoterIdNumber' };
/** State code, RTO code, year of issue, 7 digits: 15 characters. */
export type DrivingLicenceNumber = string & { readonly __brand: 'DrivingLicenceNumber' };

export type PhotoId =
  | { readonly kind: 'AADHAAR'; readonly number: AadhaarNumber }
  | { readonly kind: 'PAN'; readonly number: PanNumber }
  | { readonly kind: 'PASSPORT'; readonly number: PassportNumber }
  | { readonly kind: 'VOTER_ID'; readonly number: VoterIdNumber }
  | { readonly kind: 'DRIVING_LICENCE'; readonly number: DrivingLicenceNumber };

// Verhoeff's check digit scheme (the dihedral group D5): it detects every single-digit
// error and every transposition of adjacent digits. UIDAI uses it for Aadhaar's last digit.
/** d: the multiplication table of D5. */
const VERHOEFF_D: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
/** p: the permutation applied to a digit according to its position (period 8). */
const VERHOEFF_P: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
/** inv: the inverse of each element of D5. */
const VERHOEFF_INV: readonly number[] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

const DIGITS = /^\d+$/;

/** Folds the digits, rightmost first, with position `offset + i`. */
function verhoeffFold(digits: string, offset: number): number {
  if (!DIGITS.test(digits)) throw new RangeError('Verhoeff works on decimal digits only');
  let check = 0;
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[digits.length - 1 - i]);
    check = VERHOEFF_D[check]![VERHOEFF_P[(i + offset) % 8]![digit]!]!;
  }
  return check;
}

/** The Verhoeff check digit to append to `digits`. */
export function verhoeffCheckDigit(digits: string): string {
  return String(VERHOEFF_INV[verhoeffFold(digits, 1)]);
}

/** Whether `digits` ends in its correct Verhoeff check digit. */
export function verhoeffIsValid(digits: string): boolean {
  return DIGITS.test(digits) && verhoeffFold(digits, 0) === 0;
}

interface DocumentRule {
  /** The rule, as the caller reads it in the error message. */
  readonly rule: string;
  readonly reason: string;
  /** The accepted written forms, in any letter case. */
  readonly form: RegExp;
}

// Aadhaar and driving licence numbers are commonly written in groups, with a space or a
// hyphen between them; PAN, passport and EPIC numbers are printed as one run and are
// accepted only so. Any wider set of forms would include some the redactor misses.
const RULES: Readonly<Record<PhotoIdKind, DocumentRule>> = {
  AADHAAR: {
    rule: 'aadhaar must be 12 digits, the first 2-9, with a valid Verhoeff check digit',
    reason: 'INVALID_AADHAAR',
    form: /^[2-9]\d{3}[ -]?\d{4}[ -]?\d{4}$/,
  },
  PAN: {
    rule: 'pan must be 5 letters, 4 digits and a letter, written without spaces',
    reason: 'INVALID_PAN',
    form: /^[A-Z]{5}\d{4}[A-Z]$/i,
  },
  PASSPORT: {
    rule: 'passport must be a letter followed by 7 digits, the first 1-9, written without spaces',
    reason: 'INVALID_PASSPORT',
    form: /^[A-Z][1-9]\d{6}$/i,
  },
  VOTER_ID: {
    rule: 'voter ID (EPIC) must be 3 letters followed by 7 digits, written without spaces',
    reason: 'INVALID_VOTER_ID',
    form: /^[A-Z]{3}\d{7}$/i,
  },
  DRIVING_LICENCE: {
    rule: 'driving licence must be a 2-letter state code, a 2-digit RTO code, a year of issue (19xx or 20xx) and 7 digits',
    reason: 'INVALID_DRIVING_LICENCE',
    form: /^[A-Z]{2}[ -]?\d{2}[ -]?(?:19|20)\d{2}[ -]?\d{7}$/i,
  },
};

/**
 * PAN's 4th letter is the holder's type: P for an individual (others: C company, H Hindu
 * undivided family, F firm, A association of persons, T trust, B body of individuals,
 * L local authority, J artificial juridical person, G government). A beneficiary is a
 * person, so only an individual's PAN identifies one.
 */
export const PAN_INDIVIDUAL_HOLDER_TYPE = 'P';

/** The normalised number, or a refusal naming the rule. */
function normalise(kind: PhotoIdKind, input: string): string {
  const { rule, reason, form } = RULES[kind];
  const written = input.trim();
  if (!form.test(written)) throw invalidArgument(rule, { reason });
  return written.replace(/[ -]/g, '').toUpperCase();
}

export function parseAadhaar(input: string): AadhaarNumber {
  const number = normalise('AADHAAR', input);
  if (!verhoeffIsValid(number)) {
    throw invalidArgument(RULES.AADHAAR.rule, { reason: RULES.AADHAAR.reason });
  }
  return number as AadhaarNumber;
}

export function parsePan(input: string): PanNumber {
  const number = normalise('PAN', input);
  if (number[3] !== PAN_INDIVIDUAL_HOLDER_TYPE) {
    throw invalidArgument(
      `pan must be an individual's: its 4th letter must be ${PAN_INDIVIDUAL_HOLDER_TYPE}`,
      { reason: 'PAN_NOT_INDIVIDUAL' },
    );
  }
  return number as PanNumber;
}

export function parsePassport(input: string): PassportNumber {
  return normalise('PASSPORT', input) as PassportNumber;
}

export function parseVoterId(input: string): VoterIdNumber {
  return normalise('VOTER_ID', input) as VoterIdNumber;
}

export function parseDrivingLicence(input: string): DrivingLicenceNumber {
  return normalise('DRIVING_LICENCE', input) as DrivingLicenceNumber;
}

export function isPhotoIdKind(value: unknown): value is PhotoIdKind {
  return typeof value === 'string' && (PHOTO_ID_KINDS as readonly string[]).includes(value);
}

/**
 * Parses a document number of the given kind. `kind` is undefined when the caller left
 * it unspecified.
 */
export function parsePhotoId(kind: PhotoIdKind | undefined, input: string): PhotoId {
  switch (kind) {
    case 'AADHAAR':
      return { kind, number: parseAadhaar(input) };
    case 'PAN':
      return { kind, number: parsePan(input) };
    case 'PASSPORT':
      return { kind, number: parsePassport(input) };
    case 'VOTER_ID':
      return { kind, number: parseVoterId(input) };
    case 'DRIVING_LICENCE':
      return { kind, number: parseDrivingLicence(input) };
    default:
      throw invalidArgument(`photo_id_kind must be one of ${PHOTO_ID_KINDS.join(', ')}`, {
        reason: 'INVALID_PHOTO_ID_KIND',
      });
  }
}

/**
 * The keyed blind index of a document: how a registered document is found again (to
 * refuse registering it twice) without storing its number. Separated by kind, so the
 * same characters under two kinds index differently, and by version, so the scheme can
 * change without old indexes matching new ones. Use its own key, not the mobile's.
 */
export function documentBlindIndex(key: Buffer, photoId: PhotoId): string {
  return createHmac('sha256', key)
    .update(`vaxguard/photo-id/v1:${photoId.kind}:${photoId.number}`)
    .digest('hex');
}
