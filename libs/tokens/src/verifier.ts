import { verify as verifySignature } from 'node:crypto';
import { unauthenticated, unavailable, type VaxGuardError } from '@vaxguard/errors';
import { decodeJsonObject, splitCompactJws } from '@vaxguard/jws';
import { isBeneficiaryRef } from '@vaxguard/pii';
import {
  MAX_TOKEN_LIFETIME_MS,
  TOKEN_ALGORITHM,
  type Audience,
  type GranteeKind,
  type TokenClaims,
  type TokenPayload,
  STAFF_ROLES,
  TOKEN_PURPOSES,
} from './claims';
import type { JwksCache } from './jwks';
import type { RevocationSet } from './revocations';

export interface TokenVerifierOptions {
  /** The trusted issuers (`iss`), each with the key set it publishes. */
  readonly issuers: Readonly<Record<string, JwksCache>>;
  readonly revocations: RevocationSet;
  readonly clock?: () => Date;
  /** Tokens whose signature was checked, kept until they expire (default 10,000). */
  readonly cacheSize?: number;
}

const DEFAULT_CACHE_SIZE = 10_000;

const GRANTEE_KINDS: readonly GranteeKind[] = ['STAFF', 'PARTNER_CLIENT'];

function refuse(reason: string, message: string, cause?: unknown): VaxGuardError {
  return unauthenticated(message, { reason, cause });
}

/**
 * Verifies VaxGuard tokens locally: only EdDSA, only keys a trusted issuer published
 * (the OTP service for OTP tokens and consent grants), only the expected audience, not
 * expired, not longer-lived than any VaxGuard token, not revoked. Every refusal is
 * UNAUTHENTICATED with a reason; the token itself never appears in a message.
 */
export class TokenVerifier {
  private readonly clock: () => Date;
  private readonly cacheSize: number;
  private readonly verified = new Map<string, TokenClaims>();

  constructor(private readonly options: TokenVerifierOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  }

  /**
   * Verifies a token meant for `audience` (or any one of several). A token whose
   * signature was already checked is not checked again (an Ed25519 verification costs
   * more than the rest of a read); its expiry, audience and revocation are, every time.
   */
  async verify(token: string, audience: Audience | readonly Audience[]): Promise<TokenClaims> {
    const audiences: readonly Audience[] = typeof audience === 'string' ? [audience] : audience;
    const cached = this.verified.get(token);
    if (cached) return this.recheck(token, cached, audiences);
    const claims = await this.verifySignedToken(token, audiences);
    this.remember(token, claims);
    return claims;
  }

  private recheck(token: string, claims: TokenClaims, audiences: readonly Audience[]): TokenClaims {
    if (claims.expiresAt.getTime() <= this.clock().getTime()) {
      this.verified.delete(token);
      throw refuse('TOKEN_EXPIRED', 'the token has expired');
    }
    if (!audiences.includes(claims.audience)) {
      throw refuse('TOKEN_AUDIENCE', 'the token is not meant for this service');
    }
    if (this.options.revocations.isRevoked(claims.tokenId)) {
      throw refuse('TOKEN_REVOKED', 'the token has been revoked');
    }
    return claims;
  }

  private remember(token: string, claims: TokenClaims): void {
    // Oldest first out: a Map iterates in insertion order.
    if (this.verified.size >= this.cacheSize) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, claims);
  }

  private async verifySignedToken(
    token: string,
    audiences: readonly Audience[],
  ): Promise<TokenClaims> {
    const parts = splitCompactJws(token);
    if (!parts) throw refuse('TOKEN_MALFORMED', 'the token is not a compact JWS');
    const header = decodeJsonObject(parts.header);
    if (!header) throw refuse('TOKEN_MALFORMED', 'the token is not a compact JWS');
    // Checked before any key lookup: `none`, HS256 with a public key as secret and
    // other algorithm confusions never reach a verifier.
    if (header['alg'] !== TOKEN_ALGORITHM) {
      throw refuse('TOKEN_ALGORITHM', `tokens must be signed with ${TOKEN_ALGORITHM}`);
    }
    // RFC 7515 §4.1.11: extensions named in crit must be understood; VaxGuard uses none.
    if (header['crit'] !== undefined) {
      throw refuse('TOKEN_MALFORMED', 'the token asks for JWS extensions (crit)');
    }
    const kid = header['kid'];
    if (typeof kid !== 'string' || kid === '') {
      throw refuse('TOKEN_UNKNOWN_KEY', 'the token names no signing key');
    }
    // The issuer picks the key set; the signature check below then proves the claim.
    const unverified = decodeJsonObject(parts.payload);
    if (!unverified) throw refuse('TOKEN_MALFORMED', 'the token is not a compact JWS');
    const issuer = typeof unverified['iss'] === 'string' ? unverified['iss'] : '';
    const keys = Object.hasOwn(this.options.issuers, issuer)
      ? this.options.issuers[issuer]
      : undefined;
    if (!keys) {
      throw refuse('TOKEN_ISSUER', 'the token was not issued by a trusted VaxGuard issuer');
    }
    let key;
    try {
      key = await keys.find(kid);
    } catch (error) {
      throw unavailable('signing keys cannot be fetched right now', { cause: error });
    }
    if (!key) throw refuse('TOKEN_UNKNOWN_KEY', 'the token was signed with an unknown key');

    // Ed25519 (RFC 8037) over the signing input, checked here and at once: through
    // WebCrypto the same check costs twice the CPU, half of it handing work to a thread.
    const signature = Buffer.from(parts.signature, 'base64url');
    let signed = false;
    try {
      signed =
        signature.length === ED25519_SIGNATURE_BYTES &&
        verifySignature(null, Buffer.from(parts.signingInput, 'latin1'), key, signature);
    } catch (error) {
      throw refuse('TOKEN_SIGNATURE', 'the token signature is invalid', error);
    }
    if (!signed) throw refuse('TOKEN_SIGNATURE', 'the token signature is invalid');
    const payload = checkRegisteredClaims(unverified, audiences, this.clock());
    if ((payload.exp - payload.iat) * 1000 > MAX_TOKEN_LIFETIME_MS) {
      throw refuse('TOKEN_LIFETIME', 'the token claims a longer life than any VaxGuard token');
    }
    if (this.options.revocations.isRevoked(payload.jti)) {
      throw refuse('TOKEN_REVOKED', 'the token has been revoked');
    }
    return toClaims(payload, kid, audiences);
  }
}

const ED25519_SIGNATURE_BYTES = 64;
type JsonObject = Record<string, unknown>;

const isNumericDate = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * The registered claims of a signed payload (RFC 7519 §4.1), as VaxGuard requires them:
 * sub, jti, iat and exp present, `aud` one of the expected audiences, not expired at
 * `now`, and not before its `nbf` if it names one. No clock tolerance: the issuer and
 * every verifier share the platform's clock.
 */
function checkRegisteredClaims(
  payload: JsonObject,
  audiences: readonly Audience[],
  now: Date,
): TokenPayload {
  const { sub, jti, iat, exp, nbf, aud } = payload;
  if (typeof sub !== 'string' || typeof jti !== 'string' || !isNumericDate(iat)) {
    throw refuse('TOKEN_INVALID', 'the token lacks sub, jti or iat');
  }
  if (!isNumericDate(exp)) throw refuse('TOKEN_INVALID', 'the token lacks exp');
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (exp <= nowSeconds) throw refuse('TOKEN_EXPIRED', 'the token has expired');
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > nowSeconds)) {
    throw refuse('TOKEN_INVALID', 'the token is not valid yet');
  }
  const named = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!named.some((candidate) => audiences.includes(candidate as Audience))) {
    throw refuse('TOKEN_AUDIENCE', 'the token is not meant for this service');
  }
  return payload as unknown as TokenPayload;
}

function toClaims(
  payload: TokenPayload,
  keyId: string,
  audiences: readonly Audience[],
): TokenClaims {
  // checkRegisteredClaims found an expected audience named; VaxGuard tokens name one.
  const audience = audiences.find((candidate) => candidate === payload.aud);
  if (!audience || !TOKEN_PURPOSES.includes(payload.pur) || typeof payload.cid !== 'string') {
    throw refuse('TOKEN_INVALID', 'the token is invalid');
  }
  const consent = payload.cst;
  if (
    consent &&
    (!GRANTEE_KINDS.includes(consent.gk) ||
      typeof consent.gid !== 'string' ||
      !Array.isArray(consent.brefs) ||
      !consent.brefs.every(isBeneficiaryRef))
  ) {
    throw refuse('TOKEN_INVALID', 'the token is invalid');
  }
  const staff = payload.stf;
  if (staff && (!STAFF_ROLES.includes(staff.role) || typeof staff.ctr !== 'string')) {
    throw refuse('TOKEN_INVALID', 'the token is invalid');
  }
  return {
    tokenId: payload.jti,
    subject: payload.sub,
    audience,
    scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
    issuedAt: new Date(payload.iat * 1000),
    expiresAt: new Date(payload.exp * 1000),
    keyId,
    purpose: payload.pur,
    clientId: payload.cid,
    ...(consent
      ? {
          consent: {
            beneficiaryRefs: consent.brefs,
            grantee: { kind: consent.gk, id: consent.gid },
          },
        }
      : {}),
    ...(staff ? { staff: { role: staff.role, centreId: staff.ctr } } : {}),
  };
}
