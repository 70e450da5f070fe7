import { createHmac } from 'node:crypto';
import { invalidArgument } from '@vaxguard/errors';

/** A validated Indian mobile number in its 10-digit national form. */
export type Mobile = string & { readonly __brand: 'Mobile' };

// 10 digits starting 6-9, optionally written with +91 / 91 and spaces or dashes.
const MOBILE_INPUT = /^(?:\+?91[\s-]?)?([6-9]\d{9})$/;

/**
 * Parses a mobile number as a caller typed it. The error never echoes the input: it
 * may be a real person's number.
 */
export function parseMobile(input: string): Mobile {
  const compact = input.trim().replace(/[\s-]/g, '');
  const match = MOBILE_INPUT.exec(compact);
  if (!match) {
    throw invalidArgument(
      'mobile must be an Indian mobile number: 10 digits starting with 6, 7, 8 or 9, optionally prefixed with +91',
      { reason: 'INVALID_MOBILE' },
    );
  }
  return match[1] as Mobile;
}

/**
 * The keyed blind index of a mobile number: how every service refers to a mobile
 * without holding it. Without the key, a dump of indexes cannot be reversed by
 * enumerating the 4 billion possible numbers.
 */
export function mobileBlindIndex(key: Buffer, mobile: Mobile): string {
  return createHmac('sha256', key).update(`vaxguard/mobile/v1:${mobile}`).digest('hex');
}

/** `XXXXXX1234`: enough for a person to recognise their own number. */
export function maskMobile(mobile: Mobile): string {
  return `XXXXXX${mobile.slice(-4)}`;
}
