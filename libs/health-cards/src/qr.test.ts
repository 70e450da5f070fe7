import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { InvalidNumericQrError, JwsTooLargeError } from './errors';
import { issueHealthCard } from './issue';
import { generateIssuerKey } from './keys';
import { createCardQr, fromNumericQr, qrSvg, toNumericQr } from './qr';
import { ISSUED_AT, ISSUER, specExample00, twoDoseBundle } from './test-support';

const jws = issueHealthCard({
  issuer: ISSUER,
  key: generateIssuerKey(),
  issuedAt: ISSUED_AT,
  bundle: twoDoseBundle(),
});

describe('numeric QR', () => {
  it('encodes each character as two digits of its code minus 45', () => {
    // The spec's example: 'X' (88) is 43; '-' is 00 and 'z' is 77.
    expect(toNumericQr('X-z.')).toBe('shc:/43007701');
  });

  it('round-trips a card both ways', () => {
    const numeric = toNumericQr(jws);
    expect(numeric).toMatch(/^shc:\/\d+$/);
    expect(numeric).toHaveLength(5 + 2 * jws.length);
    expect(fromNumericQr(numeric)).toBe(jws);
  });

  it('starts as the spec shows a single-chunk QR, `shc:/56762909524320603460292437404460`', () => {
    // Every SHC header begins {"zip":"DEF","alg":"ES256"...}, hence the same digits.
    expect(toNumericQr(specExample00())).toMatch(/^shc:\/56762909524320603460292437404460/);
  });

  it.each([
    ['no prefix', '5676'],
    ['an odd number of digits', 'shc:/567'],
    ['a pair above 77', 'shc:/5678'],
    ['a chunked code', 'shc:/1/2/5676'],
    ['a character no JWS holds', 'shc:/13'],
    ['nothing after the prefix', 'shc:/'],
    ['a letter among the digits', 'shc:/56x6'],
    ['a digit from another script', 'shc:/56\u0667\u0666'],
  ])('refuses %s', (_name, text) => {
    expect(() => fromNumericQr(text)).toThrow(InvalidNumericQrError);
  });

  it('reads each of the 65 characters of a compact JWS, and no other pair of digits', () => {
    const jwsAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    const pairs = new Set<string>();
    for (const char of jwsAlphabet) {
      const numeric = toNumericQr(char);
      expect(fromNumericQr(numeric)).toBe(char);
      pairs.add(numeric.slice('shc:/'.length));
    }
    for (let pair = 0; pair < 100; pair++) {
      const digits = String(pair).padStart(2, '0');
      if (pairs.has(digits)) continue;
      // Alone and inside a card, so a refused pair is refused wherever it stands.
      expect(() => fromNumericQr(`shc:/${digits}`)).toThrow(InvalidNumericQrError);
      expect(() => fromNumericQr(`${toNumericQr(jws)}${digits}`)).toThrow(InvalidNumericQrError);
    }
  });
});

describe('QR code', () => {
  it('holds the two segments the spec requires, at level L, within Version 22', () => {
    const qr = createCardQr(jws);
    expect(qr.segments.map((s) => s.mode.id)).toEqual(['Byte', 'Numeric']);
    expect(qr.errorCorrectionLevel.bit).toBe(
      QRCode.create('x', { errorCorrectionLevel: 'L' }).errorCorrectionLevel.bit,
    );
    expect(qr.version).toBeLessThanOrEqual(22);
  });

  it('draws the QR as SVG', async () => {
    const svg = await qrSvg(jws);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
    expect(svg).toContain('<path');
  });

  it('fits the longest card the spec allows in Version 22', () => {
    const longest = `${'A'.repeat(100)}.${'B'.repeat(1195 - 100 - 2 - 86)}.${'C'.repeat(86)}`;
    expect(createCardQr(longest).version).toBe(22);
    expect(() => createCardQr(`${longest}D`)).toThrow(JwsTooLargeError);
  });
});
