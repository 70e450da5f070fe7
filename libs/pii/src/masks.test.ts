import { describe, expect, it } from 'vitest';
import { parsePhotoId, type PhotoIdKind } from './documents';
import { maskMobileForDisplay, maskPhotoId } from './masks';
import { maskMobile, parseMobile } from './mobile';
import { findSensitive } from './redact';

describe('maskPhotoId', () => {
  it.each([
    ['AADHAAR', '2341 2341 2346', 'XXXX XXXX 2346'],
    ['PAN', 'abcpe1234f', 'XXXXXX234F'],
    ['PASSPORT', 'K1234567', 'XXXX4567'],
    ['VOTER_ID', 'ABC1234567', 'XXXXXX4567'],
    ['DRIVING_LICENCE', 'MH12 20110012345', 'XXXXXXXXXXX2345'],
  ] as [PhotoIdKind, string, string][])(
    'shows a %s as %s (written %j): the last 4 characters only',
    (kind, input, masked) => {
      expect(maskPhotoId(parsePhotoId(kind, input))).toBe(masked);
    },
  );

  it('produces masks the redactor does not take for raw numbers', () => {
    const masks = [
      maskPhotoId(parsePhotoId('AADHAAR', '234123412346')),
      maskPhotoId(parsePhotoId('PAN', 'ABCPE1234F')),
      maskPhotoId(parsePhotoId('PASSPORT', 'K1234567')),
      maskPhotoId(parsePhotoId('VOTER_ID', 'ABC1234567')),
      maskPhotoId(parsePhotoId('DRIVING_LICENCE', 'MH1220110012345')),
    ];
    expect(findSensitive(masks.join('\n'))).toEqual([]);
    expect(findSensitive(JSON.stringify({ maskedPhotoId: masks[0], other: masks }))).toEqual([]);
  });
});

describe('maskMobileForDisplay', () => {
  it('shows the last 4 digits behind six asterisks, unlike the SMS inbox mask', () => {
    const mobile = parseMobile('+91 98765 01403');
    expect(maskMobileForDisplay(mobile)).toBe('******1403');
    expect(maskMobile(mobile)).toBe('XXXXXX1403');
  });

  it('is not taken for a raw mobile number', () => {
    const masked = maskMobileForDisplay(parseMobile('9876501403'));
    expect(findSensitive(`mobile ${masked}`)).toEqual([]);
  });
});
