/**
 * The rules of the SMART Health Cards framework (https://spec.smarthealth.cards, v1.4.0)
 * that this library applies, each a named constant with the section it comes from, so a
 * reader finds them in one place.
 */

/** "Health Cards are Compact": the JWS header names ES256 over P-256. */
export const JWS_ALG = 'ES256';
/** "Health Cards are Compact": the payload is raw-DEFLATE compressed before signing. */
export const JWS_ZIP = 'DEF';
/** ES256 signatures in a JWS are r‖s, 32 bytes each (RFC 7518 §3.4). */
export const ES256_SIGNATURE_BYTES = 64;

/**
 * "Chunking Larger SHCs": a JWS longer than this does not fit one Version 22 QR code at
 * error-correction level L; chunking is deprecated, so we refuse instead of splitting.
 */
export const MAX_SINGLE_QR_JWS_CHARS = 1195;
/** "Health Cards as QR Codes": QRs up to Version 22 (105×105 modules, 40 mm printed). */
export const MAX_QR_VERSION = 22;
/** FAQ/qr.md: the 1195-character limit holds at level L (Low) only. */
export const QR_ERROR_CORRECTION_LEVEL = 'L';

/** "Encoding QRs": the byte-mode segment every SHC QR starts with. */
export const SHC_QR_PREFIX = 'shc:/';
/** "Encoding QRs": each JWS character c becomes the two digits of Ord(c) − 45 (`-`). */
export const NUMERIC_QR_OFFSET = 45;
/** The largest JWS character is `z` (122): 122 − 45 = 77, so pairs above 77 are invalid. */
export const NUMERIC_QR_MAX_PAIR = 77;

/** "Vocabulary": every SHC carries this type. */
export const HEALTH_CARD_TYPE = 'https://smarthealth.cards#health-card';
/**
 * "Vocabulary": the immunization type. Additional types are deprecated since v1.4.0 (cards
 * are classified by their content), but still allowed; we include it for older verifiers
 * and classify cards we verify by their Immunization resources, as v1.4.0 says.
 */
export const IMMUNIZATION_CARD_TYPE = 'https://smarthealth.cards#immunization';
/**
 * "Vocabulary": the COVID-19 type, for a card that conveys COVID-19 details. Deprecated
 * since v1.4.0 like the other content types, but the official validator still warns
 * when a COVID-19 immunization card lacks it, and older verifiers look for it.
 */
export const COVID19_CARD_TYPE = 'https://smarthealth.cards#covid19';
/** The FHIR version of the bundles we build and read (R4). */
export const FHIR_VERSION = '4.0.1';
/** `credentialSubject.fhirVersion` values whose bundles we can read: any R4 patch. */
export const READABLE_FHIR_VERSION = /^4\.0\.\d+$/;

/** The issuer URL rule below, in words, for the messages that refuse an issuer URL. */
export const ISSUER_URL_RULE =
  'an https URL with no trailing /, query or fragment (in development only: http://127.0.0.1:<port>/<path> or http://localhost:<port>/<path>)';

/**
 * "Determining keys associated with an issuer": `iss` uses https and has no trailing `/`
 * (nor, ours, a query or fragment: verifiers append `/.well-known/jwks.json` to it).
 * One exception, ours, for development only: a loopback issuer (see
 * isLoopbackIssuerUrl), whose keys a verifier on the same machine fetches over http.
 */
export function isValidIssuerUrl(iss: string): boolean {
  if (isLoopbackIssuerUrl(iss)) return true;
  if (!iss.startsWith('https://') || iss.endsWith('/')) return false;
  try {
    const url = new URL(iss);
    return url.protocol === 'https:' && url.search === '' && url.hash === '';
  } catch {
    return false;
  }
}

/**
 * The development exception: `http://127.0.0.1:<port>/<path>` or
 * `http://localhost:<port>/<path>`, with an explicit port, a path in canonical form (what
 * a verifier's URL parser leaves as it is) and no trailing `/`. Nothing that leaves the
 * machine: a development issuer's keys are served by the issuer itself on loopback.
 */
export function isLoopbackIssuerUrl(iss: string): boolean {
  const match = /^http:\/\/(?:127\.0\.0\.1|localhost):(\d{1,5})((?:\/[^/?#]+)*)$/.exec(iss);
  if (!match) return false;
  const port = Number(match[1]);
  if (port < 1 || port > 65_535 || match[1] !== String(port)) return false;
  try {
    return new URL(iss).pathname === (match[2] || '/');
  } catch {
    return false;
  }
}

/** "Revocation": a `rid` uses the base64url alphabet and is at most 24 characters. */
export const MAX_RID_CHARS = 24;
export const RID_FORMAT = /^[A-Za-z0-9_-]{1,24}$/;
/** "Revocation": a CRL entry is a rid, optionally `.` and a timestamp in seconds. */
export const CRL_ENTRY_FORMAT = /^([A-Za-z0-9_-]{1,24})(?:\.(\d{1,12}))?$/;
/** "Revocation": the recommended rid keeps the first 64 bits of HMAC-SHA-256. */
export const RID_HMAC_BYTES = 8;
/** "Revocation": the HMAC secret is a 256-bit random key. */
export const MIN_RID_SECRET_BYTES = 32;
/** "Revocation": the only revocation method this framework specifies. */
export const REVOCATION_METHOD = 'rid';

/**
 * Our own guard, not the spec's: a QR-sized card inflates to a few kilobytes; anything
 * inflating past this is refused rather than held in memory (a zip bomb).
 */
export const MAX_INFLATED_PAYLOAD_BYTES = 64 * 1024;
/**
 * Our own guard: the longest input the verifier reads. A card in a `.smart-health-card`
 * file is not held to the QR limit, so allow several times it, but bound the work.
 */
export const MAX_VERIFIER_INPUT_CHARS = 16 * 1024;
/** Our own default: clocks of phones and issuers disagree by a few minutes at most. */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;
