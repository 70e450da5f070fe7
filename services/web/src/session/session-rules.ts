// The rules of the web tier's sessions and sign-in attempts, in one place.

/** A session unused this long is forgotten (OWASP session guidance: 15-30 min for low-risk apps). */
export const SESSION_IDLE_MS = 15 * 60_000;
/** However active, a session ends this long after it began (OWASP: an absolute timeout). */
export const SESSION_ABSOLUTE_MS = 8 * 3_600_000;
/** Session ids: 256 random bits, base64url (OWASP asks for at least 64 bits of entropy). */
export const SESSION_ID_BYTES = 32;
/** Sessions held at once; past it the least recently used goes (memory is the only store). */
export const MAX_SESSIONS = 100_000;

/**
 * Sign-in codes one address may ask for in a window: a person mistyping a mobile twice
 * and asking again stays well inside; the OTP service's own per-mobile quotas apply too.
 */
export const SIGN_IN_REQUESTS = { limit: 5, windowMs: 15 * 60_000 } as const;
/** Codes one address may submit in a window (the OTP service allows 3 per transaction). */
export const SIGN_IN_CONFIRMATIONS = { limit: 10, windowMs: 15 * 60_000 } as const;

/** The cookie names: `__Host-` (RFC 6265bis: Secure, Path=/, no Domain) over TLS. */
export function cookieNames(secure: boolean): { readonly session: string; readonly csrf: string } {
  return secure
    ? { session: '__Host-vaxguard-session', csrf: '__Host-vaxguard-csrf' }
    : { session: 'vaxguard-session', csrf: 'vaxguard-csrf' };
}
