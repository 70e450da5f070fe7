import { findSensitive, isBeneficiaryRef } from '@vaxguard/pii';
import { InvalidCertificateInputError } from './errors';

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
const ROW_HEIGHT = 22;

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

/** Cuts text to a column's width (a rough count of characters) so columns never overlap. */
function fit(text: string, maxChars: number): string {
  const chars = [...text.trim()];
  return chars.length <= maxChars ? chars.join('') : `${chars.slice(0, maxChars - 1).join('')}…`;
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

/** The certificate as a standalone SVG document (A4 portrait, in points). */
export function renderCertificateSvg(input: CertificateInput): string {
  checkMaskedId(input.maskedId);
  if (!isBeneficiaryRef(input.beneficiaryRef)) {
    throw new InvalidCertificateInputError('beneficiaryRef must be a beneficiary reference');
  }
  if (input.doses.length === 0)
    throw new InvalidCertificateInputError('a certificate lists at least one dose');
  const qr = readQrSvg(input.qrSvg);

  const details: [string, string][] = [
    ['Beneficiary Name', input.name],
    ['Year of Birth', String(input.birthYear)],
    ['ID Verified', input.maskedId],
    ['Beneficiary Reference ID', input.beneficiaryRef],
    ['Certificate ID', input.certificateId],
  ];
  const detailsTop = 150;
  const detailLines = details.flatMap(([label, value], i) => [
    textAt(MARGIN, detailsTop + i * ROW_HEIGHT, label, ' class="label"'),
    textAt(MARGIN + 150, detailsTop + i * ROW_HEIGHT, fit(value, 30), ' class="value"'),
  ]);

  const columns = [
    { title: 'Dose', x: MARGIN, chars: 4 },
    { title: 'Vaccine', x: MARGIN + 45, chars: 16 },
    { title: 'Date', x: MARGIN + 160, chars: 10 },
    { title: 'Lot', x: MARGIN + 240, chars: 12 },
    { title: 'Vaccination Centre', x: MARGIN + 335, chars: 30 },
  ] as const;
  const tableTop = 420;
  const header = columns.map((c) => textAt(c.x, tableTop, c.title, ' class="th"'));
  const rows = input.doses.flatMap((dose, i) => {
    const y = tableTop + (i + 1) * ROW_HEIGHT;
    const cells = [
      String(dose.doseNumber),
      dose.vaccineName,
      dose.date,
      dose.lotNumber,
      dose.centreName,
    ];
    return cells.map((cell, j) => textAt(columns[j]!.x, y, fit(cell, columns[j]!.chars)));
  });
  const tableBottom = tableTop + (input.doses.length + 0.5) * ROW_HEIGHT;

  const qrX = WIDTH - MARGIN - QR_SIZE;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}pt" height="${HEIGHT}pt" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    '<style>text{font-family:Helvetica,Arial,sans-serif;font-size:11px;fill:#1a1a1a}',
    '.title{font-size:20px;font-weight:bold}.label{fill:#555}.value{font-weight:bold}',
    '.th{font-weight:bold}.note{font-size:9px;fill:#555}</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    textAt(MARGIN, 70, 'Certificate for COVID-19 Vaccination', ' class="title"'),
    textAt(MARGIN, 100, `Certificate ID: ${fit(input.certificateId, 40)}`),
    textAt(MARGIN, 130, 'Beneficiary Details', ' class="th"'),
    ...detailLines,
    // The QR's own SVG is not copied: only its module path, read strictly, is redrawn.
    `<svg x="${qrX}" y="${detailsTop - 30}" width="${QR_SIZE}" height="${QR_SIZE}" viewBox="0 0 ${qr.size} ${qr.size}" shape-rendering="crispEdges">`,
    `<rect width="${qr.size}" height="${qr.size}" fill="${qr.background}"/>`,
    `<path stroke="#000" d="${qr.modules}"/>`,
    '</svg>',
    textAt(qrX, detailsTop + QR_SIZE - 10, 'Scan to verify (SMART Health Card)', ' class="note"'),
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
