import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { InvalidIssuerKeyError } from './errors';
import { JWS_ALG } from './spec-rules';

/**
 * An issuer's public key as the spec publishes it ("Determining keys associated with an
 * issuer"): EC P-256, `use: sig`, `alg: ES256`, `kid` the RFC 7638 thumbprint, no `d`.
 * `crlVersion` is the counter of the key's revocation list, when it has one ("Revocation").
 */
export interface IssuerPublicJwk {
  readonly kty: 'EC';
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: 'ES256';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly crlVersion?: number;
}

/** The private JWK, for the issuing service's secret store only. */
export interface IssuerPrivateJwk extends Omit<IssuerPublicJwk, 'crlVersion'> {
  readonly d: string;
}

/** A key an issuer signs with: the node KeyObject and its published public half. */
export interface IssuerKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: IssuerPublicJwk;
}

/** The document published at `<iss>/.well-known/jwks.json`. */
export interface Jwks {
  readonly keys: readonly IssuerPublicJwk[];
}

/**
 * RFC 7638 thumbprint of an EC key: SHA-256 of the required members (crv, kty, x, y) in
 * lexicographic order with no whitespace, base64url-encoded.
 */
export function jwkThumbprint(jwk: {
  readonly crv: string;
  readonly x: string;
  readonly y: string;
}): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function publicJwkOf(key: KeyObject): IssuerPublicJwk {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    throw new InvalidIssuerKeyError('issuer keys are EC P-256 (spec: ES256)');
  }
  const point = { crv: 'P-256', x: jwk.x, y: jwk.y } as const;
  return { kty: 'EC', kid: jwkThumbprint(point), use: 'sig', alg: JWS_ALG, ...point };
}

function issuerKeyOf(privateKey: KeyObject): IssuerKey {
  const publicJwk = publicJwkOf(createPublicKey(privateKey));
  return { kid: publicJwk.kid, privateKey, publicJwk };
}

/** A fresh ES256 signing key. The spec asks for a new one at least annually. */
export function generateIssuerKey(): IssuerKey {
  return issuerKeyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

/** The private JWK of a key, to store it; never publish this. */
export function exportIssuerKey(key: IssuerKey): IssuerPrivateJwk {
  const { d } = key.privateKey.export({ format: 'jwk' });
  if (!d) throw new InvalidIssuerKeyError('the key has no private part');
  const { kty, kid, use, alg, crv, x, y } = key.publicJwk;
  return { kty, kid, use, alg, crv, x, y, d };
}

/**
 * A stored private JWK as a signing key. Refuses anything but EC P-256 with `d`, and a
 * `kid` other than the thumbprint (the header's kid would then name no published key).
 */
export function importIssuerKey(jwk: unknown): IssuerKey {
  const candidate = jwk as Partial<IssuerPrivateJwk> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.d !== 'string') {
    throw new InvalidIssuerKeyError('an issuer key is a private JWK with d');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: candidate as never, format: 'jwk' });
  } catch (error) {
    throw new InvalidIssuerKeyError('the JWK is not a usable private key', error);
  }
  const key = issuerKeyOf(privateKey);
  // Node derives x and y from d: a JWK whose x, y belong to another key is refused here.
  if (candidate.x !== key.publicJwk.x || candidate.y !== key.publicJwk.y) {
    throw new InvalidIssuerKeyError('the JWK public point does not match its private key');
  }
  checkDeclaredMembers(candidate, key.kid);
  return key;
}

function checkDeclaredMembers(jwk: Partial<IssuerPublicJwk>, kid: string): void {
  if (jwk.kid !== undefined && jwk.kid !== kid) {
    throw new InvalidIssuerKeyError('kid must be the RFC 7638 thumbprint of the key');
  }
  if (jwk.use !== undefined && jwk.use !== 'sig')
    throw new InvalidIssuerKeyError('use must be sig');
  if (jwk.alg !== undefined && jwk.alg !== JWS_ALG)
    throw new InvalidIssuerKeyError('alg must be ES256');
}

/**
 * A published public JWK as a node KeyObject, for verifying. Applies the spec's rules:
 * EC P-256, no `d`, and `kid` equal to the thumbprint.
 */
export function importIssuerPublicKey(jwk: unknown): {
  readonly kid: string;
  readonly key: KeyObject;
} {
  const candidate = jwk as Partial<IssuerPrivateJwk> | null;
  if (typeof candidate !== 'object' || candidate === null) {
    throw new InvalidIssuerKeyError('a published key is a JWK object');
  }
  if (candidate.d !== undefined) {
    throw new InvalidIssuerKeyError('a published key must not hold the private parameter d');
  }
  if (candidate.kty !== 'EC' || candidate.crv !== 'P-256') {
    throw new InvalidIssuerKeyError('a published key is EC P-256');
  }
  if (typeof candidate.x !== 'string' || typeof candidate.y !== 'string') {
    throw new InvalidIssuerKeyError('a published key has x and y');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: candidate.x, y: candidate.y },
      format: 'jwk',
    });
  } catch (error) {
    throw new InvalidIssuerKeyError('the JWK is not a point on P-256', error);
  }
  const kid = jwkThumbprint({ crv: 'P-256', x: candidate.x, y: candidate.y });
  if (candidate.kid === undefined) throw new InvalidIssuerKeyError('a published key has a kid');
  checkDeclaredMembers(candidate, kid);
  return { kid, key };
}

/**
 * The JWKS to publish: the public half of each key, once per kid. List retired keys here
 * too while their cards are clinically relevant ("Key Management"); only the current key
 * signs. `crlVersions` gives a key's revocation-list counter ("Revocation": SHALL publish).
 */
export function jwksOf(
  keys: readonly (IssuerKey | IssuerPublicJwk)[],
  crlVersions: Readonly<Record<string, number>> = {},
): Jwks {
  const byKid = new Map<string, IssuerPublicJwk>();
  for (const entry of keys) {
    const jwk = 'publicJwk' in entry ? entry.publicJwk : entry;
    // Rebuilt member by member so a private `d` passed in by mistake is never published.
    const published: IssuerPublicJwk = {
      kty: 'EC',
      kid: jwk.kid,
      use: 'sig',
      alg: JWS_ALG,
      crv: 'P-256',
      x: jwk.x,
      y: jwk.y,
    };
    const crlVersion = crlVersions[jwk.kid];
    byKid.set(jwk.kid, crlVersion === undefined ? published : { ...published, crlVersion });
  }
  return { keys: [...byKid.values()] };
}
