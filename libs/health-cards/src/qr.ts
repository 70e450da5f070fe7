import QRCode from 'qrcode';
import { InvalidNumericQrError, JwsTooLargeError } from './errors';
import {
  MAX_QR_VERSION,
  MAX_SINGLE_QR_JWS_CHARS,
  NUMERIC_QR_MAX_PAIR,
  NUMERIC_QR_OFFSET,
  QR_ERROR_CORRECTION_LEVEL,
  SHC_QR_PREFIX,
} from './spec-rules';

/**
 * QR encoding of a card ("Encoding QRs"): `shc:/` in byte mode, then the JWS in numeric
 * mode, each character as the two digits of its code minus 45. Numeric mode carries
 * ~20% more than byte mode, which is why the spec does this.
 */

/** A compact JWS uses only `-`, `.`, `_`, digits and letters: all within 45..122. */
const JWS_CHARS = /^[A-Za-z0-9_.-]+$/;

function numericDigits(jws: string): string {
  if (!JWS_CHARS.test(jws))
    throw new InvalidNumericQrError('a compact JWS holds only base64url and "."');
  let digits = '';
  for (let i = 0; i < jws.length; i++) {
    digits += String(jws.charCodeAt(i) - NUMERIC_QR_OFFSET).padStart(2, '0');
  }
  return digits;
}

/** The text a scanner reads from a card's QR: `shc:/` and two digits per JWS character. */
export function toNumericQr(jws: string): string {
  return SHC_QR_PREFIX + numericDigits(jws);
}

/**
 * For each digit pair 00-99, the code of the JWS character it stands for, or 0 when it
 * stands for none: above 77, or a character no compact JWS holds (`/`, `:`, `@`, `[`…).
 * One lookup per pair both checks and decodes it. The loop reads no imported constant:
 * compiled to CommonJS (esbuild, tsx outside an ESM package) each read is a getter call,
 * ~1,600 per card, which made decoding cost a third of a signature check there.
 */
const JWS_CHAR_CODE_OF_PAIR: Uint8Array = (() => {
  const table = new Uint8Array(100);
  for (let pair = 0; pair <= NUMERIC_QR_MAX_PAIR; pair++) {
    const code = pair + NUMERIC_QR_OFFSET;
    if (JWS_CHARS.test(String.fromCharCode(code))) table[pair] = code;
  }
  return table;
})();
const DIGIT_ZERO = 48;

/**
 * The JWS in a scanned `shc:/` text, or `undefined` when it is not one. Chunked codes
 * (`shc:/1/2/…`) are deprecated since v1.3.0 and not read. One pass over the digits.
 */
export function decodeNumericQr(text: string): string | undefined {
  if (!text.startsWith(SHC_QR_PREFIX)) return undefined;
  const start = SHC_QR_PREFIX.length;
  const length = text.length - start;
  if (length === 0 || length % 2 !== 0) return undefined;
  const bytes = Buffer.allocUnsafe(length / 2);
  for (let i = start, j = 0; i < text.length; i += 2, j++) {
    const tens = text.charCodeAt(i) - DIGIT_ZERO;
    const units = text.charCodeAt(i + 1) - DIGIT_ZERO;
    if (tens < 0 || tens > 9 || units < 0 || units > 9) return undefined;
    const code = JWS_CHAR_CODE_OF_PAIR[tens * 10 + units]!;
    if (code === 0) return undefined;
    bytes[j] = code;
  }
  return bytes.toString('latin1');
}

/** The JWS in a scanned `shc:/` text; throws InvalidNumericQrError when there is none. */
export function fromNumericQr(text: string): string {
  const jws = decodeNumericQr(text.trim());
  if (jws === undefined) {
    throw new InvalidNumericQrError(
      'expected shc:/ and an even number of digits, each pair 00-77 (chunked codes are not read)',
    );
  }
  return jws;
}

/** The two segments the spec prescribes for a single (unchunked) card. */
export function qrSegments(jws: string): QRCode.QRCodeSegment[] {
  if (jws.length > MAX_SINGLE_QR_JWS_CHARS)
    throw new JwsTooLargeError(jws.length, MAX_SINGLE_QR_JWS_CHARS);
  return [
    { data: Buffer.from(SHC_QR_PREFIX, 'latin1'), mode: 'byte' },
    { data: numericDigits(jws), mode: 'numeric' },
  ];
}

/** QR options: level L, at which 1195 characters fit Version 22 (FAQ/qr.md). */
const QR_OPTIONS = { errorCorrectionLevel: QR_ERROR_CORRECTION_LEVEL } as const;

/** The QR model of a card (its version, error-correction level, segments and modules). */
export function createCardQr(jws: string): QRCode.QRCode {
  const qr = QRCode.create(qrSegments(jws), QR_OPTIONS);
  // Cannot happen under the 1195-character limit; kept so a future change cannot pass silently.
  if (qr.version > MAX_QR_VERSION) throw new JwsTooLargeError(jws.length, MAX_SINGLE_QR_JWS_CHARS);
  return qr;
}

/** The card's QR code as an SVG document, drawn by the `qrcode` package. */
export async function qrSvg(jws: string): Promise<string> {
  const { version } = createCardQr(jws);
  return QRCode.toString(qrSegments(jws), { ...QR_OPTIONS, version, type: 'svg', margin: 4 });
}
