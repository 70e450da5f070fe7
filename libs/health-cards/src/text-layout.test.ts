import { describe, expect, it } from 'vitest';
import { textWidth, wrapText } from './text-layout';

describe('wrapText', () => {
  it('breaks between words, each line within the width, nothing left out', () => {
    const text = 'Primary Health Centre Kothrud, Pune';
    const lines = wrapText(text, 'sans', 11, 100);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.join(' ')).toBe(text);
    for (const line of lines) expect(textWidth(line, 'sans', 11)).toBeLessThanOrEqual(100);
  });

  it('keeps a line that fits whole, and gives one empty line for empty text', () => {
    expect(wrapText('Covishield', 'sans', 11, 200)).toEqual(['Covishield']);
    expect(wrapText('  ', 'sans', 11, 200)).toEqual(['']);
  });

  it('breaks a word wider than a line between characters, never inside one', () => {
    const lines = wrapText('bnf_0123456789abcdefghjkmnpqrs', 'mono', 11, 70);
    expect(lines.join('')).toBe('bnf_0123456789abcdefghjkmnpqrs');
    for (const line of lines) expect(line.length * 0.61 * 11).toBeLessThanOrEqual(70);
    // A Devanagari consonant keeps its vowel sign: "कि" is one character to a reader.
    const hindi = wrapText('किकिकिकिकिकि', 'sans', 11, 25);
    expect(hindi.join('')).toBe('किकिकिकिकिकि');
    for (const line of hindi) expect(line.length % 2).toBe(0);
  });
});
