import { findSensitive, isBeneficiaryRef } from '@vaxguard/pii';
import { InvalidCertificateInputError } from './errors';
import { type CertificateFont, MONO_FAMILY, SANS_FAMILY, wrapText } from './text-layout';

/**
 * A printable vaccination certificate, laid out as India's CoWIN certificate is: the
 * beneficiary's details (with the ID masked and the beneficiary reference), a table of
 * doses, and the SMART Health Card QR code to scan.
 */
export interface CertificateDose {
  readonly doseNumber: number;
  readonly vaccineName: string;
  /** YYYY-MM-DD, printed as it is. */
  readonly date: string;
  readonly lotNumber: string;
  readonly centreName: string;
}

export interface CertificateInput {
  readonly name: string;
  readonly birthYear: number;
  /** The photo ID as masked for display (`XXXX XXXX 1234`); a raw number is refused. */
  readonly maskedId: string;
  readonly beneficiaryRef: string;
  readonly certificateId: string;
  readonly doses: readonly CertificateDose[];
  /** The SVG from `qrSvg`: its modules are redrawn, nothing else of it is copied. */
  readonly qrSvg: string;
}

const WIDTH = 595;
const HEIGHT = 842;
const MARGIN = 40;
const QR_SIZE = 200;
const QR_X = WIDTH - MARGIN - QR_SIZE;
const QR_Y = 120;
/** Clear space between a text column and what is right of it (the QR code, a column). */
const GUTTER = 16;
const FONT_SIZE = 11;
const LINE_HEIGHT = 14;
/** Space after a detail, and between two rows of the dose table. */
const BLOCK_GAP = 8;
/** The beneficiary's details run down the left, beside the QR code. */
const DETAILS_TOP = 150;
const DETAILS_WIDTH = QR_X - GUTTER - MARGIN;
/** The dose table starts here, or lower when long details push it down. */
const TABLE_TOP = 420;

/** Characters XML 1.0 cannot hold at all; dropped rather than escaped. */
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Text safe in SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(XML_INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A mask leaves at least this many characters hidden (`X` or `*`). */
const MIN_MASKED_CHARS = 4;

function checkMaskedId(maskedId: string): void {
  const hidden = [...maskedId].filter((c) => c === 'X' || c === 'x' || c === '*').length;
  if (hidden < MIN_MASKED_CHARS || findSensitive(maskedId).length > 0) {
    throw new InvalidCertificateInputError('maskedId must be a masked ID, such as XXXX XXXX 1234');
  }
}

/** The QR's geometry from a `qrcode` SVG: its size and module paths, nothing else. */
interface QrDrawing {
  readonly size: number;
  readonly background: string;
  readonly modules: string;
}

const QR_VIEWBOX = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 (\d{1,3}) \1"/;
const QR_BACKGROUND = /<path fill="(#[0-9a-f]{6})" d="[MHVhvz0-9 .]+"\/>/;
const QR_MODULES = /<path stroke="#[0-9a-f]{6}" d="([MHVhvmz0-9 .]+)"\/>/;

function readQrSvg(svg: string): QrDrawing {
  const size = QR_VIEWBOX.exec(svg);
  const modules = QR_MODULES.exec(svg);
  if (!size || !modules) {
    throw new InvalidCertificateInputError('qrSvg must be the SVG produced by qrSvg');
  }
  return {
    size: Number(size[1]),
    background: QR_BACKGROUND.exec(svg)?.[1] ?? '#ffffff',
    modules: modules[1]!,
  };
}

function textAt(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x}" y="${y}"${attributes}>${escapeXml(content)}</text>`;
}

/** A class attribute and the face its text is set in. */
interface TextStyle {
  readonly className: string;
  readonly font: CertificateFont;
}
const VALUE: TextStyle = { className: 'value', font: 'sans' };
/** Identifiers in monospace: as wide as their length says, and each character distinct. */
const IDENTIFIER: TextStyle = { className: 'id', font: 'mono' };
const CELL: TextStyle = { className: 'cell', font: 'sans' };

/** `text` wrapped to `width` from (x, y), one <text> per line, and how many lines. */
function textBlock(
  x: number,
  y: number,
  width: number,
  text: string,
  style: TextStyle,
): { elements: string[]; lines: number } {
  const lines = wrapText(text, style.font, FONT_SIZE, width);
  return {
    elements: lines.map((line, i) =>
      textAt(x, y + i * LINE_HEIGHT, line, ` class="${style.className}"`),
    ),
    lines: lines.length,
  };
}

/** The certificate as a standalone SVG document (A4 portrait, in points). */
export function renderCertificateSvg(input: CertificateInput): string {
  checkMaskedId(input.maskedId);
  if (!isBeneficiaryRef(input.beneficiaryRef)) {
    throw new InvalidCertificateInputError('beneficiaryRef must be a beneficiary reference');
  }
  if (input.doses.length === 0)
    throw new InvalidCertificateInputError('a certificate lists at least one dose');
  const qr = readQrSvg(input.qrSvg);

  // Each detail: its label, then its value below it, wrapped beside the QR code, so a
  // long name or reference is printed whole and never runs under the code.
  const details: [string, string, TextStyle][] = [
    ['Beneficiary Name', input.name, VALUE],
    ['Year of Birth', String(input.birthYear), VALUE],
    ['ID Verified', input.maskedId, VALUE],
    ['Beneficiary Reference ID', input.beneficiaryRef, IDENTIFIER],
    ['Certificate ID', input.certificateId, IDENTIFIER],
  ];
  const detailLines: string[] = [];
  let y = DETAILS_TOP;
  for (const [label, value, style] of details) {
    detailLines.push(textAt(MARGIN, y, label, ' class="label"'));
    const block = textBlock(MARGIN, y + LINE_HEIGHT, DETAILS_WIDTH, value, style);
    detailLines.push(...block.elements);
    y += (block.lines + 1) * LINE_HEIGHT + BLOCK_GAP;
  }

  const tableTop = Math.max(TABLE_TOP, y + 50);
  const columns = [
    { title: 'Dose', x: MARGIN },
    { title: 'Vaccine', x: MARGIN + 40 },
    { title: 'Date', x: MARGIN + 146 },
    { title: 'Lot', x: MARGIN + 226 },
    { title: 'Vaccination Centre', x: MARGIN + 346 },
  ] as const;
  const columnWidth = (j: number) =>
    (columns[j + 1]?.x ?? WIDTH - MARGIN + GUTTER) - GUTTER - columns[j]!.x;
  const header = columns.map((c) => textAt(c.x, tableTop, c.title, ' class="th"'));
  const rows: string[] = [];
  let rowY = tableTop + LINE_HEIGHT + BLOCK_GAP;
  for (const dose of input.doses) {
    const cells = [
      String(dose.doseNumber),
      dose.vaccineName,
      dose.date,
      dose.lotNumber,
      dose.centreName,
    ];
    const blocks = cells.map((cell, j) =>
      textBlock(columns[j]!.x, rowY, columnWidth(j), cell, CELL),
    );
    rows.push(...blocks.flatMap((block) => block.elements));
    rowY += Math.max(...blocks.map((block) => block.lines)) * LINE_HEIGHT + BLOCK_GAP;
  }
  const tableBottom = rowY - BLOCK_GAP + 6;

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}pt" height="${HEIGHT}pt" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<style>text{font-family:${SANS_FAMILY};font-size:${FONT_SIZE}px;fill:#1a1a1a}`,
    '.title{font-size:20px;font-weight:bold}.label{fill:#555}.value{font-weight:bold}',
    `.id{font-family:${MONO_FAMILY};font-weight:bold}`,
    '.th{font-weight:bold}.note{font-size:9px;fill:#555}</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    textAt(MARGIN, 70, 'Certificate for COVID-19 Vaccination', ' class="title"'),
    textAt(MARGIN, 130, 'Beneficiary Details', ' class="th"'),
    ...detailLines,
    // The QR's own SVG is not copied: only its module path, read strictly, is redrawn.
    `<svg x="${QR_X}" y="${QR_Y}" width="${QR_SIZE}" height="${QR_SIZE}" viewBox="0 0 ${qr.size} ${qr.size}" shape-rendering="crispEdges">`,
    `<rect width="${qr.size}" height="${qr.size}" fill="${qr.background}"/>`,
    `<path stroke="#000" d="${qr.modules}"/>`,
    '</svg>',
    textAt(
      QR_X,
      QR_Y + QR_SIZE + LINE_HEIGHT,
      'Scan to verify (SMART Health Card)',
      ' class="note"',
    ),
    textAt(MARGIN, tableTop - 30, 'Vaccination Details', ' class="th"'),
    `<line x1="${MARGIN}" y1="${tableTop + 6}" x2="${WIDTH - MARGIN}" y2="${tableTop + 6}" stroke="#999"/>`,
    ...header,
    ...rows,
    `<line x1="${MARGIN}" y1="${tableBottom}" x2="${WIDTH - MARGIN}" y2="${tableBottom}" stroke="#999"/>`,
    textAt(
      MARGIN,
      HEIGHT - MARGIN,
      'Verify offline with any SMART Health Cards verifier.',
      ' class="note"',
    ),
    '</svg>',
    '',
  ].join('\n');
}
