import { describe, expect, it } from 'vitest';
import { CATALOGUES, chooseLanguage, LANGUAGES, translator } from './i18n';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the message catalogues', () => {
  it('have every key in every language, none empty, with the same placeholders', () => {
    const english = CATALOGUES.en;
    for (const lang of LANGUAGES) {
      const catalogue = CATALOGUES[lang];
      expect(Object.keys(catalogue).sort(), lang).toEqual(Object.keys(english).sort());
      for (const [key, text] of Object.entries(catalogue)) {
        expect(text.trim(), `${lang} ${key}`).not.toBe('');
        expect(placeholders(text), `${lang} ${key}`).toEqual(
          placeholders(english[key as keyof typeof english]),
        );
      }
    }
  });

  it('Hindi is written in Devanagari, not left in English', () => {
    const devanagari = /[\u0900-\u097F]/;
    const untranslated = Object.entries(CATALOGUES.hi).filter(
      ([key, text]) => key !== 'lang.other' && !devanagari.test(text),
    );
    expect(untranslated).toEqual([]);
  });
});

describe('translator', () => {
  it('fills placeholders and answers undefined for a key built from data that has no message', () => {
    const { t, maybe } = translator('en');
    expect(t('error.tooMany', { minutes: 3 })).toBe(
      'Too many attempts. Please try again in 3 minutes.',
    );
    expect(maybe('role.VACCINATOR')).toBe('Vaccinator');
    expect(maybe('role.SOMETHING_NEW')).toBeUndefined();
    expect(maybe('toString')).toBeUndefined();
  });
});

describe('chooseLanguage', () => {
  it('takes the cookie, else the browser’s preference by weight, else English', () => {
    expect(chooseLanguage('hi', 'en-IN,en;q=0.9')).toBe('hi');
    expect(chooseLanguage(undefined, 'hi-IN,hi;q=0.9,en;q=0.8')).toBe('hi');
    expect(chooseLanguage(undefined, 'fr;q=0.9,en;q=0.5,hi;q=0.7')).toBe('hi');
    expect(chooseLanguage(undefined, 'ta-IN')).toBe('en');
    expect(chooseLanguage('xx', undefined)).toBe('en');
    expect(chooseLanguage(undefined, 'hi;q=0')).toBe('en');
  });
});
