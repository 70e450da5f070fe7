/**
 * Patterns of personal data and secrets that must never reach a log, an event or an
 * error message. Used by the logger on every line, and by tests that scan dumps.
 */
export const SENSITIVE_PATTERNS: readonly { readonly kind: string; readonly pattern: RegExp }[] = [
  // Compact JWS/JWT: three base64url parts, the header starting with `{"` (eyJ).
  { kind: 'token', pattern: /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g },
  // Aadhaar: 12 digits, first 2-9, often grouped 4-4-4.
  // Dashes around the digits mean an id such as a UUID, not an Aadhaar number.
  { kind: 'aadhaar', pattern: /(?<![\w.-])[2-9]\d{3}[\s-]?\d{4}[\s-]?\d{4}(?![\w-])/g },
  // Indian mobile numbers, with or without +91, plain or split 5-5.
  {
    kind: 'mobile',
    pattern: /(?<![\w.+-])(?:\+?91[\s-]?)?[6-9]\d{4}[\s-]?\d{5}(?![\w-])/g,
  },
  // Documents in every form the identity parsers accept (libs/pii documents.ts), in any
  // letter case. Driving licence: state, RTO, year, number, grouped or not
  // (MH12 20110012345, MH-12-2011-0012345).
  {
    kind: 'driving-licence',
    pattern: /\b[A-Z]{2}[\s-]?\d{2}[\s-]?(?:19|20)\d{2}[\s-]?\d{7}\b/gi,
  },
  { kind: 'pan', pattern: /\b[A-Z]{5}\d{4}[A-Z]\b/gi },
  { kind: 'voter-id', pattern: /\b[A-Z]{3}\d{7}\b/gi },
  // The first group of a lowercase UUID (a1234567-89ab-…) is not a passport.
  { kind: 'passport', pattern: /\b[A-Z][1-9]\d{6}\b(?!-[0-9a-f]{4}-)/gi },
  // A bare 6-digit number is treated as an OTP. Digits inside hex ids, timestamps and
  // decimals are left alone.
  { kind: 'otp', pattern: /(?<![\w.:-])\d{6}(?![\w])/g },
];

/** Object keys whose string values are always secret, whatever they look like. */
export const SENSITIVE_KEY =
  /^(otp|pin|password|passwd|secret|secretcode|token|accesstoken|refreshtoken|authorization|cookie|mobile|mobilenumber|phone|phonenumber|aadhaar|aadhaarnumber|pan|passport|idnumber|photoidnumber|voterid|drivinglicence)$/i;

export function redactText(text: string): string {
  let result = text;
  for (const { kind, pattern } of SENSITIVE_PATTERNS) {
    result = result.replace(pattern, `[REDACTED:${kind}]`);
  }
  return result;
}

/** Finds the sensitive values in a text: what a leak scan reports. */
export function findSensitive(text: string): { kind: string; match: string }[] {
  const found: { kind: string; match: string }[] = [];
  for (const { kind, pattern } of SENSITIVE_PATTERNS) {
    for (const match of text.matchAll(pattern)) found.push({ kind, match: match[0] });
  }
  return found;
}

/** Deep copy of a value with every sensitive key blanked and every string scrubbed. */
export function redactValue(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, seen));
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (value instanceof Error) return redactValue(serializeError(value), seen);
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    result[key] =
      SENSITIVE_KEY.test(key) && inner != null ? '[REDACTED]' : redactValue(inner, seen);
  }
  return result;
}

function serializeError(error: Error): Record<string, unknown> {
  const serialized: Record<string, unknown> = {
    type: error.name,
    message: error.message,
    stack: error.stack,
  };
  for (const [key, inner] of Object.entries(error)) serialized[key] = inner;
  if (error.cause !== undefined) serialized['cause'] = error.cause;
  return serialized;
}
