import { en, type MessageKey } from './en';
import { hi } from './hi';

export { type MessageKey } from './en';

export const LANGUAGES = ['en', 'hi'] as const;
export type Language = (typeof LANGUAGES)[number];
export const DEFAULT_LANGUAGE: Language = 'en';
/** The cookie that keeps the chosen language (a preference, not personal data). */
export const LANGUAGE_COOKIE = 'vaxguard-lang';

export const CATALOGUES: Readonly<Record<Language, Readonly<Record<MessageKey, string>>>> = {
  en,
  hi,
};

/** Fills `{name}` placeholders; a message's text is never HTML (preact escapes it). */
export type Translate = (
  key: MessageKey,
  values?: Readonly<Record<string, string | number>>,
) => string;

export interface Translator {
  readonly lang: Language;
  readonly t: Translate;
  /** The message for a key built from data (a role, a purpose), or undefined when there is none. */
  readonly maybe: (key: string) => string | undefined;
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

export function translator(lang: Language): Translator {
  const catalogue = CATALOGUES[lang];
  const t: Translate = (key, values) =>
    catalogue[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
      values && name in values ? String(values[name]) : whole,
    );
  return {
    lang,
    t,
    maybe: (key) => (Object.hasOwn(catalogue, key) ? catalogue[key as MessageKey] : undefined),
  };
}

/**
 * The language of a request: the cookie when it names one, else the first of the
 * browser's Accept-Language (by q) that the site has, else English.
 */
export function chooseLanguage(
  cookie: string | undefined,
  acceptLanguage: string | undefined,
): Language {
  if (isLanguage(cookie)) return cookie;
  const wanted = (acceptLanguage ?? '')
    .split(',')
    .map((part, order) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { primary: tag.toLowerCase().split('-')[0], q: q ? Number(q) : 1, order };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  return wanted.map((entry) => entry.primary).find(isLanguage) ?? DEFAULT_LANGUAGE;
}
