import { describe, expect, it } from 'vitest';
import {
  documentBlindIndex,
  isPhotoIdKind,
  parseAadhaar,
  parseDrivingLicence,
  parsePan,
  parsePassport,
  parsePhotoId,
  parseVoterId,
  verhoeffCheckDigit,
  verhoeffIsValid,
  type PassportNumber,
  type PhotoIdKind,
  type VoterIdNumber,
} from './documents';

/** A refusal as the caller sees it: INVALID_ARGUMENT, a stable reason, no echo of the input. */
function refused(reason: string, input: string, rule?: string): unknown {
  const message: unknown = rule ?? expect.not.stringContaining(input.trim());
  return expect.objectContaining({ code: 'INVALID_ARGUMENT', reason, message }) as unknown;
}

// A valid Aadhaar number from python-stdnum's documentation (stdnum.in_.aadhaar).
const AADHAAR = '234123412346';

describe('Verhoeff', () => {
  it.each([
    // Wikipedia's worked example, Rosetta Code's "Verhoeff algorithm" task, python-stdnum's tests.
    ['236', '3'],
    ['12345', '1'],
    ['123456789012', '0'],
    ['654', '8'],
    ['398438246238642378648236487236482734', '7'],
    ['23412341234', '6'],
  ])('the check digit of %s is %s', (digits, check) => {
    expect(verhoeffCheckDigit(digits)).toBe(check);
    expect(verhoeffIsValid(digits + check)).toBe(true);
  });

  it('validates numbers ending in their check digit and no others', () => {
    expect(verhoeffIsValid('1428570')).toBe(true);
    expect(verhoeffIsValid('2363')).toBe(true);
    expect(verhoeffIsValid('654')).toBe(false);
    expect(verhoeffIsValid('2364')).toBe(false);
    expect(verhoeffIsValid('')).toBe(false);
    expect(verhoeffIsValid('23a3')).toBe(false);
  });

  it('detects every single-digit substitution in a valid Aadhaar number', () => {
    let substitutions = 0;
    for (let position = 0; position < AADHAAR.length; position++) {
      for (let digit = 0; digit <= 9; digit++) {
        if (String(digit) === AADHAAR[position]) continue;
        const wrong = AADHAAR.slice(0, position) + String(digit) + AADHAAR.slice(position + 1);
        expect(verhoeffIsValid(wrong), wrong).toBe(false);
        expect(() => parseAadhaar(wrong), wrong).toThrow(refused('INVALID_AADHAAR', wrong));
        substitutions++;
      }
    }
    expect(substitutions).toBe(12 * 9);
  });

  it('detects every transposition of adjacent, different digits in a valid Aadhaar number', () => {
    let transpositions = 0;
    for (let position = 0; position < AADHAAR.length - 1; position++) {
      const [a, b] = [AADHAAR[position]!, AADHAAR[position + 1]!];
      if (a === b) continue;
      const swapped = AADHAAR.slice(0, position) + b + a + AADHAAR.slice(position + 2);
      expect(verhoeffIsValid(swapped), swapped).toBe(false);
      expect(() => parseAadhaar(swapped), swapped).toThrow(refused('INVALID_AADHAAR', swapped));
      transpositions++;
    }
    expect(transpositions).toBe(11);
  });
});

describe('parseAadhaar', () => {
  const another = `99887766554${verhoeffCheckDigit('99887766554')}`;

  it.each([
    [AADHAAR, AADHAAR],
    ['2341 2341 2346', AADHAAR],
    ['2341-2341-2346', AADHAAR],
    [' 2341 23412346\n', AADHAAR],
    [another, another],
  ])('accepts %j as %s', (input, number) => {
    expect(parseAadhaar(input)).toBe(number);
  });

  it.each([
    ['the wrong check digit', '234123412347'],
    ['11 digits', '23412341234'],
    ['13 digits', '2341234123466'],
    [
      'a first digit 1, even with a valid check digit',
      `12341234123${verhoeffCheckDigit('12341234123')}`,
    ],
    [
      'a first digit 0, even with a valid check digit',
      `01234123412${verhoeffCheckDigit('01234123412')}`,
    ],
    ['a letter', '23412341234A'],
    ['two spaces between groups', '2341  2341 2346'],
    ['a separator inside a group', '23412 341 2346'],
    ['an underscore', '2341_2341_2346'],
    ['Devanagari digits', '२३४१२३४१२३४६'],
    ['full-width digits', '２３４１２３４１２３４６'],
    ['nothing', ' '],
  ])('refuses %s, naming the rule without echoing the number', (_, input) => {
    expect(() => parseAadhaar(input)).toThrow(
      refused(
        'INVALID_AADHAAR',
        input,
        'aadhaar must be 12 digits, the first 2-9, with a valid Verhoeff check digit',
      ),
    );
  });
});

describe('parsePan', () => {
  it.each([
    ['ABCPE1234F', 'ABCPE1234F'],
    ['abcpe1234f', 'ABCPE1234F'],
    [' AbCpE1234f ', 'ABCPE1234F'],
  ])('accepts an individual PAN written %j', (input, number) => {
    expect(parsePan(input)).toBe(number);
  });

  it.each(['ABCCE1234F', 'ABCHE1234F', 'ABCFE1234F', 'ABCTE1234F', 'abcge1234f'])(
    'refuses %s: only an individual (4th letter P) is a beneficiary',
    (input) => {
      expect(() => parsePan(input)).toThrow(refused('PAN_NOT_INDIVIDUAL', input));
      expect(() => parsePan(input)).toThrow(/4th letter must be P/);
    },
  );

  it.each([
    'ABCP1234F',
    'ABCPEF1234F',
    'ABCPE12345',
    'ABCPE123F',
    '1BCPE1234F',
    'ABCPE1234',
    'ABCPE 1234 F',
    'ABCPE-1234F',
    // The Kelvin sign case-folds to K only under Unicode rules: not an ASCII letter.
    'ABCPE1234\u212A',
  ])('refuses %j', (input) => {
    expect(() => parsePan(input)).toThrow(refused('INVALID_PAN', input));
    expect(() => parsePan(input)).toThrow(/5 letters, 4 digits and a letter/);
  });
});

describe('parsePassport', () => {
  it.each([
    ['K1234567', 'K1234567'],
    ['z9000001', 'Z9000001'],
  ])('accepts %j', (input, number) => {
    expect(parsePassport(input)).toBe(number);
  });

  it.each(['K0234567', 'K123456', 'K12345678', '12345678', 'KK123456', 'K 1234567', 'K-1234567'])(
    'refuses %j',
    (input) => {
      expect(() => parsePassport(input)).toThrow(refused('INVALID_PASSPORT', input));
      expect(() => parsePassport(input)).toThrow(/a letter followed by 7 digits, the first 1-9/);
    },
  );
});

describe('parseVoterId', () => {
  it.each([
    ['ABC1234567', 'ABC1234567'],
    ['xyz0000001', 'XYZ0000001'],
  ])('accepts %j', (input, number) => {
    expect(parseVoterId(input)).toBe(number);
  });

  it.each(['AB1234567', 'ABC123456', 'ABC12345678', 'ABCD123456', 'ABC 1234567', 'A1C1234567'])(
    'refuses %j',
    (input) => {
      expect(() => parseVoterId(input)).toThrow(refused('INVALID_VOTER_ID', input));
      expect(() => parseVoterId(input)).toThrow(/3 letters followed by 7 digits/);
    },
  );
});

describe('parseDrivingLicence', () => {
  it.each([
    'MH1220110012345',
    'MH12 20110012345',
    'MH-1220110012345',
    'MH12-20110012345',
    'MH-12-2011-0012345',
    'MH 12 2011 0012345',
    'mh12 2011 0012345',
  ])('accepts %j as the 15 characters MH1220110012345', (input) => {
    expect(parseDrivingLicence(input)).toBe('MH1220110012345');
  });

  it('accepts years of issue in the 1900s and 2000s', () => {
    expect(parseDrivingLicence('DL04 19990000001')).toBe('DL0419990000001');
  });

  it.each([
    ['a year of issue before 1900', 'MH12 18990012345'],
    ['a year of issue after 2099', 'MH12 21010012345'],
    ['a 6-digit number', 'MH12 2011001234'],
    ['an 8-digit number', 'MH12 201100123456'],
    ['a 1-letter state code', 'M12 20110012345'],
    ['a 1-digit RTO code', 'MH1 20110012345'],
    ['a state code with a digit', 'M112 20110012345'],
    ['two separators in a row', 'MH12--20110012345'],
    ['a separator inside the year', 'MH12 20 110012345'],
  ])('refuses %s', (_, input) => {
    expect(() => parseDrivingLicence(input)).toThrow(refused('INVALID_DRIVING_LICENCE', input));
    expect(() => parseDrivingLicence(input)).toThrow(
      /2-letter state code, a 2-digit RTO code, a year of issue \(19xx or 20xx\) and 7 digits/,
    );
  });
});

describe('parsePhotoId', () => {
  it.each([
    ['AADHAAR', '2341 2341 2346', '234123412346'],
    ['PAN', 'abcpe1234f', 'ABCPE1234F'],
    ['PASSPORT', 'k1234567', 'K1234567'],
    ['VOTER_ID', 'abc1234567', 'ABC1234567'],
    ['DRIVING_LICENCE', 'MH12 20110012345', 'MH1220110012345'],
  ] as const)('parses a %s', (kind, input, number) => {
    expect(parsePhotoId(kind, input)).toEqual({ kind, number });
  });

  it("applies the kind's own rule: a valid PAN is not a voter ID", () => {
    expect(() => parsePhotoId('VOTER_ID', 'ABCPE1234F')).toThrow(
      refused('INVALID_VOTER_ID', 'ABCPE1234F'),
    );
    expect(() => parsePhotoId('PASSPORT', AADHAAR)).toThrow(refused('INVALID_PASSPORT', AADHAAR));
  });

  it('refuses an unspecified or unknown kind, listing the kinds', () => {
    for (const kind of [undefined, 'RATION_CARD' as PhotoIdKind]) {
      expect(() => parsePhotoId(kind, AADHAAR)).toThrow(
        refused(
          'INVALID_PHOTO_ID_KIND',
          AADHAAR,
          'photo_id_kind must be one of AADHAAR, PAN, PASSPORT, VOTER_ID, DRIVING_LICENCE',
        ),
      );
    }
  });

  it('recognises the kinds', () => {
    expect(isPhotoIdKind('DRIVING_LICENCE')).toBe(true);
    expect(isPhotoIdKind('driving_licence')).toBe(false);
    expect(isPhotoIdKind('PHOTO_ID_KIND_UNSPECIFIED')).toBe(false);
    expect(isPhotoIdKind(1)).toBe(false);
  });
});

describe('documentBlindIndex', () => {
  const key = Buffer.alloc(32, 9);

  it('is the same however the number was written, and reveals none of it', () => {
    const index = documentBlindIndex(key, parsePhotoId('AADHAAR', '2341 2341 2346'));
    expect(index).toBe(documentBlindIndex(key, parsePhotoId('AADHAAR', '234123412346')));
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(index).not.toContain('2346');
    const licence = documentBlindIndex(key, parsePhotoId('DRIVING_LICENCE', 'mh-12-2011-0012345'));
    expect(licence).toBe(
      documentBlindIndex(key, parsePhotoId('DRIVING_LICENCE', 'MH1220110012345')),
    );
  });

  it('differs between numbers, between keys, and between kinds for the same characters', () => {
    const pan = parsePhotoId('PAN', 'ABCPE1234F');
    const index = documentBlindIndex(key, pan);
    expect(index).not.toBe(documentBlindIndex(key, parsePhotoId('PAN', 'ABCPE1234G')));
    expect(index).not.toBe(documentBlindIndex(Buffer.alloc(32, 8), pan));
    // No valid number belongs to two kinds; the kind still separates the indexes.
    const number = 'ABC1234567';
    expect(documentBlindIndex(key, { kind: 'VOTER_ID', number: number as VoterIdNumber })).not.toBe(
      documentBlindIndex(key, { kind: 'PASSPORT', number: number as PassportNumber }),
    );
  });
});
