/**
 * How wide a line of the printed certificate is, and where it wraps. SVG has no line
 * breaking of its own and a certificate is rendered by whatever viewer a person has, so
 * widths are upper bounds over the fonts the certificate names: text laid out with them
 * never reaches the QR code or the next column, whichever of those fonts is used.
 */

/** The certificate's two faces: its text, and the identifiers a person may copy out. */
export type CertificateFont = 'sans' | 'mono';

/** The sans faces named, in order; Arial and Liberation Sans share Helvetica's metrics. */
export const SANS_FAMILY = 'Helvetica,Arial,"Liberation Sans",sans-serif';
/** The monospace faces named: every glyph one advance wide. */
export const MONO_FAMILY = '"Courier New",Courier,"Liberation Mono","DejaVu Sans Mono",monospace';

/** Courier and Liberation Mono advance 0.6 em, DejaVu Sans Mono 0.602. */
const MONO_ADVANCE_EM = 0.61;

/**
 * Upper bounds of Helvetica's advances (bold, the wider weight), in ems, by class of
 * character. From its Adobe font metrics: the narrow class peaks at `r` (0.389), the
 * middle at lowercase `n`, `o`, `p` (0.611), the wide at `G`, `O`, `Q` (0.778); `m`, `w`,
 * `M`, `W`, `%` and `@` (up to 0.975) count a full em, as does any other character
 * (another script, a symbol).
 */
const NARROW_EM = 0.39;
const MIDDLE_EM = 0.611;
const WIDE_EM = 0.778;
const FULL_EM = 1;
const NARROW = /^[\s!'(),\-./:;[\\\]`fijlrtI|{}*]$/;
const MIDDLE = /^[a-z0-9_?#$+<=>^~J]$/;
const WIDE = /^[A-Z"&]$/;
const FULLEST = /^[mwMW%@]$/;

function sansAdvanceEm(grapheme: string): number {
  if (NARROW.test(grapheme)) return NARROW_EM;
  if (FULLEST.test(grapheme)) return FULL_EM;
  if (MIDDLE.test(grapheme)) return MIDDLE_EM;
  if (WIDE.test(grapheme)) return WIDE_EM;
  return FULL_EM;
}

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** User-perceived characters: a consonant and its vowel sign stay together. */
function graphemes(text: string): string[] {
  return [...graphemeSegmenter.segment(text)].map((part) => part.segment);
}

/** At least the width `text` takes in `font` at `size` (px, the SVG's user units). */
export function textWidth(text: string, font: CertificateFont, size: number): number {
  const parts = graphemes(text);
  const ems =
    font === 'mono'
      ? parts.length * MONO_ADVANCE_EM
      : parts.reduce((sum, part) => sum + sansAdvanceEm(part), 0);
  return ems * size;
}

/**
 * `text` broken into lines no wider than `maxWidth`: between words where it can, inside
 * a word only when the word alone is wider than a line. Nothing is cut off.
 */
export function wrapText(
  text: string,
  font: CertificateFont,
  size: number,
  maxWidth: number,
): string[] {
  const fits = (line: string) => textWidth(line, font, size) <= maxWidth;
  const lines: string[] = [];
  let line = '';
  for (const word of text.trim().split(/\s+/)) {
    const joined = line === '' ? word : `${line} ${word}`;
    if (fits(joined)) {
      line = joined;
      continue;
    }
    if (line !== '') lines.push(line);
    line = '';
    for (const grapheme of graphemes(word)) {
      if (line !== '' && !fits(line + grapheme)) {
        lines.push(line);
        line = '';
      }
      line += grapheme;
    }
  }
  lines.push(line);
  return lines;
}
