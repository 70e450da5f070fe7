import { describe, expect, it } from 'vitest';
import {
  isBeneficiaryRef,
  newBeneficiaryRef,
  parseBeneficiaryRef,
  type BeneficiaryRef,
} from './beneficiary-ref';
import { findSensitive, redactText } from './redact';

const FORMAT = /^bnf_[0-9a-hjkmnp-tv-z]{26}$/;

describe('newBeneficiaryRef', () => {
  it('is bnf_ and 26 lowercase Crockford base32 characters, different every time', () => {
    const refs = Array.from({ length: 2_000 }, () => newBeneficiaryRef());
    for (const ref of refs) expect(ref).toMatch(FORMAT);
    expect(new Set(refs).size).toBe(refs.length);
  });

  it('encodes all 128 random bits, big-endian, the first character carrying the top 3', () => {
    const fixed = (hex: string) => () => Buffer.from(hex, 'hex');
    expect(newBeneficiaryRef(fixed('00'.repeat(16)))).toBe(`bnf_${'0'.repeat(26)}`);
    expect(newBeneficiaryRef(fixed('ff'.repeat(16)))).toBe(`bnf_7${'z'.repeat(25)}`);
    // Expected value computed independently (Python int.from_bytes and base 32).
    expect(newBeneficiaryRef(fixed('0123456789abcdeffedcba9876543210'))).toBe(
      'bnf_014d2pf2dbsqqzxq5tk1v58cgg',
    );
    expect(newBeneficiaryRef(fixed(`${'00'.repeat(15)}01`))).toBe(`bnf_${'0'.repeat(25)}1`);
  });

  it('asks the CSPRNG for 16 bytes (128 bits, above the 96 the mission requires)', () => {
    const asked: number[] = [];
    newBeneficiaryRef((size) => (asked.push(size), Buffer.alloc(size)));
    expect(asked).toEqual([16]);
  });

  it('spreads over every character of the alphabet after the first', () => {
    const seen = new Set(
      Array.from({ length: 500 }, () => newBeneficiaryRef().slice(5)).flatMap((tail) => [...tail]),
    );
    expect([...seen].sort().join('')).toBe('0123456789abcdefghjkmnpqrstvwxyz');
  });
});

describe('isBeneficiaryRef and parseBeneficiaryRef', () => {
  const ref = newBeneficiaryRef();

  it('accept a reference exactly as issued', () => {
    expect(isBeneficiaryRef(ref)).toBe(true);
    expect(parseBeneficiaryRef(ref)).toBe(ref);
    expect(parseBeneficiaryRef('bnf_014d2pf2dbsqqzxq5tk1v58cgg')).toBe(
      'bnf_014d2pf2dbsqqzxq5tk1v58cgg',
    );
  });

  it.each([
    ['upper case', 'BNF_014D2PF2DBSQQZXQ5TK1V58CGG'],
    ['an upper-case body', 'bnf_014D2PF2DBSQQZXQ5TK1V58CGG'],
    ['25 characters', 'bnf_014d2pf2dbsqqzxq5tk1v58cg'],
    ['27 characters', 'bnf_014d2pf2dbsqqzxq5tk1v58cggg'],
    ['a first character above 7 (more than 128 bits)', 'bnf_814d2pf2dbsqqzxq5tk1v58cgg'],
    ['the letter i', 'bnf_014d2pf2dbsqqzxq5tk1v58cgi'],
    ['the letter l', 'bnf_014d2pf2dbsqqzxq5tk1v58cgl'],
    ['the letter o', 'bnf_014d2pf2dbsqqzxq5tk1v58cgo'],
    ['the letter u', 'bnf_014d2pf2dbsqqzxq5tk1v58cgu'],
    ['another prefix', 'ben_014d2pf2dbsqqzxq5tk1v58cgg'],
    ['no prefix', '014d2pf2dbsqqzxq5tk1v58cgg'],
    ['surrounding space', ' bnf_014d2pf2dbsqqzxq5tk1v58cgg'],
    ['a trailing newline', 'bnf_014d2pf2dbsqqzxq5tk1v58cgg\n'],
    ['a mobile number', '9876543210'],
    ['a mobile number after the prefix', 'bnf_9876543210'],
    ['an Aadhaar number', '234123412346'],
    ['a UUID', '3f2a9c10-1234-4abc-9def-123456abcdef'],
  ])('refuse %s without echoing it', (_, input) => {
    expect(isBeneficiaryRef(input)).toBe(false);
    expect(() => parseBeneficiaryRef(input)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        reason: 'INVALID_BENEFICIARY_REF',
        message:
          'beneficiary_ref must be bnf_ followed by 26 lowercase Crockford base32 characters',
      }),
    );
  });

  it('refuse the empty string and values that are not strings', () => {
    expect(() => parseBeneficiaryRef('')).toThrow(
      expect.objectContaining({ reason: 'INVALID_BENEFICIARY_REF' }),
    );
    for (const value of [undefined, null, 42, {}, [ref]]) {
      expect(isBeneficiaryRef(value)).toBe(false);
    }
  });
});

describe('references and the redactor', () => {
  it('are never taken for a mobile, an Aadhaar number, an OTP or a document', () => {
    // References whose body is all digits are the closest to the numeric patterns.
    const digitsOnly = [
      'bnf_09876543210987654321098765',
      'bnf_23412341234698765432106789',
      'bnf_00000000000000000098765432',
    ] as BeneficiaryRef[];
    for (const ref of [
      ...digitsOnly,
      ...Array.from({ length: 2_000 }, () => newBeneficiaryRef()),
    ]) {
      expect(isBeneficiaryRef(ref)).toBe(true);
      for (const text of [ref, `ref=${ref}`, `{"beneficiaryRef":"${ref}"}`, `/${ref}/ ${ref}.`]) {
        expect(findSensitive(text), text).toEqual([]);
        expect(redactText(text)).toBe(text);
      }
    }
  });
});
