import { leaks } from '@vaxguard/testing';
import { describe, expect, it } from 'vitest';
import { escapeXml, renderCertificateSvg, type CertificateInput } from './certificate-svg';
import { InvalidCertificateInputError } from './errors';
import { issueHealthCard } from './issue';
import { generateIssuerKey } from './keys';
import { qrSvg } from './qr';
import { ISSUED_AT, ISSUER, twoDoseBundle } from './test-support';

const jws = issueHealthCard({
  issuer: ISSUER,
  key: generateIssuerKey(),
  issuedAt: ISSUED_AT,
  bundle: twoDoseBundle(),
});

async function input(overrides: Partial<CertificateInput> = {}): Promise<CertificateInput> {
  return {
    name: 'Asha Verma',
    birthYear: 1985,
    maskedId: 'XXXX XXXX 2346',
    beneficiaryRef: 'bnf_0123456789abcdefghjkmnpqrs',
    certificateId: 'CERT-2021-000123',
    doses: [
      {
        doseNumber: 1,
        vaccineName: 'COVISHIELD',
        date: '2021-05-01',
        lotNumber: '4121Z040',
        centreName: 'PHC Kothrud, Pune',
      },
      {
        doseNumber: 2,
        vaccineName: 'COVISHIELD',
        date: '2021-08-01',
        lotNumber: '4121Z111',
        centreName: 'PHC Kothrud, Pune',
      },
    ],
    qrSvg: await qrSvg(jws),
    ...overrides,
  };
}

/**
 * Helvetica Bold's advance widths in thousandths of an em (Adobe's font metrics), for
 * the characters these tests print: the widest face the certificate names for its text
 * (the regular weight is narrower, Arial and Liberation Sans share the metrics).
 */
const HELVETICA_BOLD: Record<string, number> = {
  ...widthsOf('0123456789', Array(10).fill(556)),
  ...widthsOf(
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    [
      722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667,
      611, 722, 667, 944, 667, 667, 611,
    ],
  ),
  ...widthsOf(
    'abcdefghijklmnopqrstuvwxyz',
    [
      556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556,
      333, 611, 556, 778, 556, 556, 500,
    ],
  ),
  ...widthsOf(' ,.-:()_', [278, 278, 278, 333, 333, 333, 333, 556]),
};

function widthsOf(characters: string, widths: readonly number[]): Record<string, number> {
  return Object.fromEntries([...characters].map((character, i) => [character, widths[i] ?? 0]));
}
/** The widest monospace face the certificate names: DejaVu Sans Mono, 0.602 em. */
const MONO_EM = 0.602;

interface PrintedText {
  readonly x: number;
  readonly y: number;
  readonly className: string;
  readonly text: string;
  /** How far right the text reaches, in the widest face it may be set in. */
  readonly right: number;
}

const FONT_SIZES: Record<string, number> = { title: 20, note: 9 };

/** Every <text> of the certificate, in document order, with where it ends. */
function printedTexts(svg: string): PrintedText[] {
  return [
    ...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"(?: class="([a-z]+)")?>([^<]*)<\/text>/g),
  ].map(([, x, y, className = '', text = '']) => {
    const size = FONT_SIZES[className] ?? 11;
    const ems =
      className === 'id'
        ? [...text].length * MONO_EM
        : [...text].reduce((sum, char) => {
            const width = HELVETICA_BOLD[char];
            if (width === undefined) throw new Error(`no metrics for ${JSON.stringify(char)}`);
            return sum + width / 1000;
          }, 0);
    return { x: Number(x), y: Number(y), className, text, right: Number(x) + ems * size };
  });
}

/** Where the QR code is drawn. */
function qrBox(svg: string) {
  const [, x, y, size] = /<svg x="([\d.]+)" y="([\d.]+)" width="([\d.]+)"/.exec(svg) ?? [];
  return { x: Number(x), top: Number(y), bottom: Number(y) + Number(size) };
}

/** The lines printed under a detail's label, up to the next label. */
function detailLines(texts: readonly PrintedText[], label: string): PrintedText[] {
  const start = texts.findIndex((text) => text.className === 'label' && text.text === label);
  const after = texts.slice(start + 1);
  const end = after.findIndex((text) => text.className !== 'value' && text.className !== 'id');
  return after.slice(0, end);
}

/** Text that, wherever it is, stays on the page and never reaches into the QR code. */
function expectClearOfTheQrCode(svg: string): void {
  const qr = qrBox(svg);
  for (const text of printedTexts(svg)) {
    expect(text.right, text.text).toBeLessThanOrEqual(595 - 40);
    const besideTheCode = text.y >= qr.top && text.y - 11 <= qr.bottom && text.x < qr.x;
    if (besideTheCode) expect(text.right, text.text).toBeLessThanOrEqual(qr.x);
  }
}

const LONG_NAME = 'Lakshmi Venkataramanan Subramaniam Iyer Ramachandran';
const LONG_CENTRE = 'Primary Health Centre Kothrud, Pune Municipal Corporation';
const LONG_LOT = 'ABCD-1234-EFGH-5678';

describe('renderCertificateSvg', () => {
  it('prints the whole beneficiary reference, clear of the QR code, as every other line', async () => {
    const svg = renderCertificateSvg(await input());
    const texts = printedTexts(svg);
    expect(detailLines(texts, 'Beneficiary Reference ID').map((line) => line.text)).toEqual([
      'bnf_0123456789abcdefghjkmnpqrs',
    ]);
    expectClearOfTheQrCode(svg);
  });

  it('wraps a long name beside the QR code, and a long centre name and lot within their columns, printing each whole', async () => {
    const base = await input();
    const svg = renderCertificateSvg({
      ...base,
      name: LONG_NAME,
      doses: [{ ...base.doses[0]!, centreName: LONG_CENTRE, lotNumber: LONG_LOT }],
    });
    expectClearOfTheQrCode(svg);
    const texts = printedTexts(svg);
    const name = detailLines(texts, 'Beneficiary Name');
    expect(name.length).toBeGreaterThan(1);
    expect(name.map((line) => line.text).join(' ')).toBe(LONG_NAME);
    // Each cell of the dose table ends before the next column begins.
    const headerY = texts.find((text) => text.className === 'th' && text.text === 'Dose')?.y;
    const headers = texts.filter((text) => text.className === 'th' && text.y === headerY);
    const cells = texts.filter((text) => text.className === 'cell');
    for (const cell of cells) {
      const next = headers.find((header) => header.x > cell.x);
      expect(cell.right, cell.text).toBeLessThanOrEqual(next?.x ?? 595 - 40);
    }
    const column = (title: string) => {
      const x = headers.find((header) => header.text === title)?.x;
      return cells.filter((cell) => cell.x === x).map((cell) => cell.text);
    };
    expect(column('Vaccination Centre').length).toBeGreaterThan(1);
    expect(column('Vaccination Centre').join(' ')).toBe(LONG_CENTRE);
    // A lot number has no spaces: it is broken between characters, none left out.
    expect(column('Lot').length).toBeGreaterThan(1);
    expect(column('Lot').join('')).toBe(LONG_LOT);
  });

  it('prints the details, the masked ID, the beneficiary ref, a row per dose and the QR modules', async () => {
    const qr = await qrSvg(jws);
    const svg = renderCertificateSvg(await input());
    for (const text of [
      'Asha Verma',
      '1985',
      'XXXX XXXX 2346',
      'bnf_0123456789abcdefghjkmnpqrs',
      'CERT-2021-000123',
    ]) {
      expect(svg).toContain(`>${text}<`);
    }
    expect(svg.match(/>COVISHIELD</g)).toHaveLength(2);
    expect(svg).toContain('>4121Z111<');
    const modules = /<path stroke="#[0-9a-f]{6}" d="([^"]+)"/.exec(qr)![1]!;
    expect(svg).toContain(`d="${modules}"`);
  });

  it('is well-formed XML whatever the text holds', async () => {
    const svg = renderCertificateSvg(
      await input({ name: `<script>alert("x")</script> & 'Co'\u0000`, certificateId: ']]><x/>' }),
    );
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)');
    expect(svg).not.toContain('\u0000');
    expect(escapeXml(`a&b<c>"d"'e'`)).toBe('a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;');
  });

  it('shows no identity number, phone or token', async () => {
    expect(leaks(renderCertificateSvg(await input()), ['234123412346'])).toEqual([]);
  });

  it.each([
    ['an unmasked Aadhaar', { maskedId: '2341 2341 2346' }],
    ['a barely masked ID', { maskedId: 'X234123412346' }],
    ['a beneficiary ref of another format', { beneficiaryRef: '9876543210' }],
    ['an SVG that is not our QR', { qrSvg: '<svg onload="alert(1)"/>' }],
    ['no dose', { doses: [] }],
  ])('refuses %s', async (_name, overrides) => {
    const certificate = await input(overrides);
    expect(() => renderCertificateSvg(certificate)).toThrow(InvalidCertificateInputError);
  });
});
