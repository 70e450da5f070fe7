import { type KeyObject, verify as verifySignature } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { decodeJsonObject, splitCompactJws } from '@vaxguard/jws';
import { InvalidVerifierOptionsError } from './errors';
import { readImmunizationBundle, type VerifiedImmunization, type VerifiedPatient } from './fhir';
import { importIssuerPublicKey } from './keys';
import {
  indexRevocationList,
  isValidRid,
  parseRevocationList,
  type RevocationIndex,
} from './revocation';
import { decodeNumericQr } from './qr';
import {
  DEFAULT_CLOCK_SKEW_MS,
  ES256_SIGNATURE_BYTES,
  HEALTH_CARD_TYPE,
  JWS_ALG,
  JWS_ZIP,
  MAX_INFLATED_PAYLOAD_BYTES,
  MAX_VERIFIER_INPUT_CHARS,
  READABLE_FHIR_VERSION,
  SHC_QR_PREFIX,
} from './spec-rules';

/** Why a card is not accepted: a closed set, stable for apps to branch on and count. */
export const INVALID_CARD_REASONS = [
  /** Not a `shc:/` numeric payload nor a compact JWS, or its payload is not the SHC JSON. */
  'MALFORMED',
  /** The header is not `{alg: ES256, zip: DEF, kid}` (or asks for extensions, `crit`). */
  'UNSUPPORTED_HEADER',
  /** The payload is not raw DEFLATE, or inflates past the size cap. */
  'INFLATE_FAILED',
  /** `iss` is not one of the trusted issuers. */
  'UNKNOWN_ISSUER',
  /** The issuer publishes no key with this `kid` (or withdrew it after a compromise). */
  'UNKNOWN_KEY',
  /** The signature does not verify with the issuer's key. */
  'BAD_SIGNATURE',
  /** Not a health card, or a health card with no Immunization in it. */
  'NOT_AN_IMMUNIZATION_CARD',
  /** An immunization card whose FHIR content breaks the shape we read. */
  'BAD_FHIR',
  /** `nbf` is in the future beyond the allowed clock skew. */
  'NOT_YET_VALID',
  /** `exp` is in the past ("Expiration of Health Cards": verifiers SHALL check it). */
  'EXPIRED',
] as const;
export type InvalidCardReason = (typeof INVALID_CARD_REASONS)[number];

export interface ValidCard {
  readonly status: 'valid';
  readonly iss: string;
  readonly kid: string;
  readonly issuedAt: Date;
  readonly expiresAt?: Date;
  readonly rid?: string;
  readonly patient: VerifiedPatient;
  readonly immunizations: readonly VerifiedImmunization[];
}

/** Signed by a trusted issuer but listed in its revocation list: show nothing of it. */
export interface RevokedCard {
  readonly status: 'revoked';
  readonly iss: string;
  readonly kid: string;
  readonly issuedAt: Date;
  readonly rid: string;
}

export interface InvalidCard {
  readonly status: 'invalid';
  readonly reason: InvalidCardReason;
  /** A short explanation for logs and support; never card content. */
  readonly detail: string;
}

export type VerificationResult = ValidCard | RevokedCard | InvalidCard;

export interface TrustedIssuer {
  /** The issuer URL, exactly as cards carry it in `iss`. */
  readonly iss: string;
  /** The issuer's published `.well-known/jwks.json`, as fetched when the app last synced. */
  readonly jwks: unknown;
  /** Revocation lists by kid, as fetched from `<iss>/.well-known/crl/<kid>.json`. */
  readonly revocations?: Readonly<Record<string, unknown>>;
}

export interface OfflineVerifierOptions {
  readonly issuers: readonly TrustedIssuer[];
  readonly now?: () => Date;
  /** How far `nbf` may be ahead of (and `exp` behind) this device's clock. */
  readonly clockSkewMs?: number;
}

export interface OfflineVerifier {
  /** Verifies a scanned `shc:/…` text or a compact JWS; never throws, never goes online. */
  verify(input: unknown): VerificationResult;
}

interface TrustedKey {
  readonly key: KeyObject;
  /** Issuers publishing this key. A kid is the key's thumbprint, so one key per kid. */
  readonly issuers: Set<string>;
}

interface CompiledIssuer {
  readonly kids: ReadonlySet<string>;
  readonly revocations: ReadonlyMap<string, RevocationIndex>;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const invalid = (reason: InvalidCardReason, detail: string): InvalidCard => ({
  status: 'invalid',
  reason,
  detail,
});

function compileIssuer(issuer: TrustedIssuer, keys: Map<string, TrustedKey>): CompiledIssuer {
  const at = `issuer ${issuer.iss}`;
  const jwks = issuer.jwks;
  if (!isObject(jwks) || !Array.isArray(jwks['keys'])) {
    throw new InvalidVerifierOptionsError(`${at}: jwks must be a JWK set with keys`);
  }
  const kids = new Set<string>();
  const crlVersions = new Map<string, number>();
  for (const jwk of jwks['keys'] as unknown[]) {
    // "Signing keys … can be identified by filtering on kty, use, and alg": skip others.
    if (!isObject(jwk) || jwk['kty'] !== 'EC' || jwk['use'] !== 'sig' || jwk['alg'] !== JWS_ALG)
      continue;
    let imported: ReturnType<typeof importIssuerPublicKey>;
    try {
      imported = importIssuerPublicKey(jwk);
    } catch (error) {
      throw new InvalidVerifierOptionsError(
        `${at}: a signing key breaks the spec's key rules`,
        error,
      );
    }
    kids.add(imported.kid);
    const known = keys.get(imported.kid);
    if (known) known.issuers.add(issuer.iss);
    else keys.set(imported.kid, { key: imported.key, issuers: new Set([issuer.iss]) });
    const crlVersion = jwk['crlVersion'];
    if (crlVersion !== undefined) {
      if (typeof crlVersion !== 'number' || !Number.isSafeInteger(crlVersion) || crlVersion < 1) {
        throw new InvalidVerifierOptionsError(
          `${at}: crlVersion of ${imported.kid} must be a positive integer`,
        );
      }
      crlVersions.set(imported.kid, crlVersion);
    }
  }
  const revocations = new Map<string, RevocationIndex>();
  for (const [kid, document] of Object.entries(issuer.revocations ?? {})) {
    const list = parseRevocationList(document);
    if (list.kid !== kid)
      throw new InvalidVerifierOptionsError(`${at}: the list given for ${kid} is for another key`);
    if (!kids.has(kid))
      throw new InvalidVerifierOptionsError(`${at}: no published key has kid ${kid}`);
    revocations.set(kid, indexRevocationList(list));
  }
  // "If the crlVersion is present … Verifiers SHALL" check the list: offline, that means
  // refusing to start with a missing or older list than the JWKS announces.
  for (const [kid, crlVersion] of crlVersions) {
    const list = revocations.get(kid);
    if (!list || list.ctr < crlVersion) {
      throw new InvalidVerifierOptionsError(
        `${at}: key ${kid} announces revocation list version ${crlVersion}; give that list or a newer one`,
      );
    }
  }
  return { kids, revocations };
}

function inflate(payload: string): Buffer | undefined {
  try {
    return inflateRawSync(Buffer.from(payload, 'base64url'), {
      maxOutputLength: MAX_INFLATED_PAYLOAD_BYTES,
    });
  } catch {
    return undefined;
  }
}

function parseClaims(inflated: Buffer): Json | undefined {
  try {
    const claims = JSON.parse(inflated.toString('utf8')) as unknown;
    return isObject(claims) ? claims : undefined;
  } catch {
    // Includes a RangeError from absurdly deep nesting: bad input, not our failure.
    return undefined;
  }
}

/**
 * An offline verifier for the given trusted issuers. Keys are imported and revocation
 * lists indexed once, here; bad options are refused here with a clear message, so
 * `verify` itself only reads the card.
 */
export function createOfflineVerifier(options: OfflineVerifierOptions): OfflineVerifier {
  const keys = new Map<string, TrustedKey>();
  const issuers = new Map<string, CompiledIssuer>();
  for (const issuer of options.issuers) {
    if (issuers.has(issuer.iss))
      throw new InvalidVerifierOptionsError(`issuer ${issuer.iss} is listed twice`);
    issuers.set(issuer.iss, compileIssuer(issuer, keys));
  }
  const now = options.now ?? (() => new Date());
  const skewMs = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  if (!Number.isFinite(skewMs) || skewMs < 0) {
    throw new InvalidVerifierOptionsError('clockSkewMs must be a non-negative number');
  }

  /** Which trusted issuer, if any, the card claims: for the reason when its kid is unknown. */
  function unknownKidReason(payload: string): InvalidCard {
    const inflated = inflate(payload);
    if (!inflated)
      return invalid('INFLATE_FAILED', 'the payload is not raw DEFLATE within the size cap');
    const claims = parseClaims(inflated);
    if (!claims || typeof claims['iss'] !== 'string')
      return invalid('MALFORMED', 'the payload has no iss');
    return issuers.has(claims['iss'])
      ? invalid('UNKNOWN_KEY', 'the issuer publishes no key with this kid')
      : invalid('UNKNOWN_ISSUER', 'the issuer is not trusted');
  }

  function verifyJws(jws: string): VerificationResult {
    const parts = splitCompactJws(jws);
    // A health card is always signed: no unsecured JWS.
    if (!parts || parts.signature === '') {
      return invalid('MALFORMED', 'not a compact JWS (three base64url parts)');
    }
    const { payload: encodedPayload, signature: encodedSignature } = parts;
    const header = decodeJsonObject(parts.header);
    if (!header) return invalid('MALFORMED', 'the JWS header is not a JSON object');
    const kid = header['kid'];
    if (
      header['alg'] !== JWS_ALG ||
      header['zip'] !== JWS_ZIP ||
      typeof kid !== 'string' ||
      kid === ''
    ) {
      return invalid('UNSUPPORTED_HEADER', 'the header must be {alg: ES256, zip: DEF, kid}');
    }
    // RFC 7515 §4.1.11: extensions listed in crit must be understood; we know none.
    if (header['crit'] !== undefined)
      return invalid('UNSUPPORTED_HEADER', 'crit extensions are not supported');

    // The kid picks the key before anything is inflated: only signed payloads get
    // decompressed, so an unsigned zip bomb costs one signature check.
    const trusted = keys.get(kid);
    if (!trusted) return unknownKidReason(encodedPayload);
    const signature = Buffer.from(encodedSignature, 'base64url');
    if (signature.length !== ES256_SIGNATURE_BYTES) {
      return invalid('BAD_SIGNATURE', 'an ES256 signature is 64 bytes (r‖s)');
    }
    const signingInput = Buffer.from(parts.signingInput, 'latin1');
    const signed = verifySignature(
      'sha256',
      signingInput,
      { key: trusted.key, dsaEncoding: 'ieee-p1363' },
      signature,
    );
    if (!signed) return invalid('BAD_SIGNATURE', 'the signature does not verify');

    const inflated = inflate(encodedPayload);
    if (!inflated)
      return invalid('INFLATE_FAILED', 'the payload is not raw DEFLATE within the size cap');
    const claims = parseClaims(inflated);
    if (!claims) return invalid('MALFORMED', 'the payload is not a JSON object');
    const { iss, nbf, exp, vc } = claims;
    if (typeof iss !== 'string') return invalid('MALFORMED', 'the payload has no iss');
    const issuer = issuers.get(iss);
    if (!issuer) return invalid('UNKNOWN_ISSUER', 'the issuer is not trusted');
    // Signed by a trusted key, but one this issuer does not publish: not its card.
    if (!issuer.kids.has(kid))
      return invalid('UNKNOWN_KEY', 'the issuer publishes no key with this kid');
    if (typeof nbf !== 'number' || !Number.isFinite(nbf))
      return invalid('MALFORMED', 'nbf must be a number');
    if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) {
      return invalid('MALFORMED', 'exp must be a number');
    }
    if (!isObject(vc)) return invalid('MALFORMED', 'the payload has no vc claim');
    const rid = vc['rid'];
    if (rid !== undefined && !isValidRid(rid))
      return invalid('MALFORMED', 'vc.rid is not a valid rid');

    // nbf may carry milliseconds (the spec's own examples do).
    const issuedAt = new Date(nbf * 1000);
    if (rid !== undefined && issuer.revocations.get(kid)?.isRevoked(rid, nbf)) {
      return { status: 'revoked', iss, kid, issuedAt, rid };
    }
    const nowMs = now().getTime();
    if (nbf * 1000 > nowMs + skewMs) return invalid('NOT_YET_VALID', 'nbf is in the future');
    if (exp !== undefined && exp * 1000 < nowMs - skewMs)
      return invalid('EXPIRED', 'exp is in the past');

    const types = vc['type'];
    if (!Array.isArray(types) || !types.includes(HEALTH_CARD_TYPE)) {
      return invalid('NOT_AN_IMMUNIZATION_CARD', 'vc.type does not name a health card');
    }
    const subject = vc['credentialSubject'];
    if (!isObject(subject)) return invalid('BAD_FHIR', 'vc.credentialSubject is missing');
    const fhirVersion = subject['fhirVersion'];
    if (typeof fhirVersion !== 'string' || !READABLE_FHIR_VERSION.test(fhirVersion)) {
      return invalid('BAD_FHIR', 'fhirVersion must be 4.0.x (R4)');
    }
    const content = readImmunizationBundle(subject['fhirBundle']);
    if (!content.ok) return invalid(content.reason, content.detail);
    return {
      status: 'valid',
      iss,
      kid,
      issuedAt,
      ...(exp === undefined ? {} : { expiresAt: new Date(exp * 1000) }),
      ...(rid === undefined ? {} : { rid }),
      patient: content.patient,
      immunizations: content.immunizations,
    };
  }

  return {
    verify(input) {
      if (typeof input !== 'string') return invalid('MALFORMED', 'the input is not text');
      if (input.length > MAX_VERIFIER_INPUT_CHARS)
        return invalid('MALFORMED', 'the input is too long');
      const text = input.trim();
      if (!text.startsWith(SHC_QR_PREFIX)) return verifyJws(text);
      const jws = decodeNumericQr(text);
      if (jws === undefined) return invalid('MALFORMED', 'not a single-QR shc:/ numeric payload');
      return verifyJws(jws);
    },
  };
}
