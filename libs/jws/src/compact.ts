/**
 * Compact JWS (RFC 7515 §7.1) read as text, before any cryptography: the one parser of
 * both the token verifier and the SMART Health Card verifier, so that both are as strict
 * about what a JWS looks like.
 */

export interface CompactJws {
  /** The base64url of the protected header. */
  readonly header: string;
  /** The base64url of the payload. */
  readonly payload: string;
  /** The base64url of the signature; empty for an unsecured JWS (`alg: none`). */
  readonly signature: string;
  /** What the signature covers: `header.payload`, as sent. */
  readonly signingInput: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64URL_OR_EMPTY = /^[A-Za-z0-9_-]*$/;

/**
 * The three parts of a compact JWS, or undefined for anything else: exactly three
 * dot-separated parts, the header and payload non-empty base64url (no padding), the
 * signature base64url or empty. An empty signature is kept, so that a verifier can
 * refuse an unsecured JWS by its header's name for it.
 */
export function splitCompactJws(text: string): CompactJws | undefined {
  const firstDot = text.indexOf('.');
  const secondDot = text.indexOf('.', firstDot + 1);
  if (firstDot < 1 || secondDot < 0 || text.indexOf('.', secondDot + 1) >= 0) return undefined;
  const header = text.slice(0, firstDot);
  const payload = text.slice(firstDot + 1, secondDot);
  const signature = text.slice(secondDot + 1);
  if (!BASE64URL.test(header) || !BASE64URL.test(payload) || !BASE64URL_OR_EMPTY.test(signature)) {
    return undefined;
  }
  return { header, payload, signature, signingInput: text.slice(0, secondDot) };
}

/** A base64url part holding a JSON object (a header, a payload), or undefined. */
export function decodeJsonObject(base64url: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(base64url, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
