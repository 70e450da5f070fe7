import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import { AUDIENCE, TOKEN_ISSUER, toPayload, type TokenClaims } from './claims';
import { JwksCache, type PublicJwk } from './jwks';
import { RevocationSet } from './revocations';
import { TokenVerifier } from './verifier';

function keyPair(kid: string): { privateKey: KeyObject; jwk: PublicJwk } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const exported = publicKey.export({ format: 'jwk' });
  return {
    privateKey,
    jwk: { kty: 'OKP', crv: 'Ed25519', x: exported.x as string, kid, alg: 'EdDSA', use: 'sig' },
  };
}

const now = new Date('2026-11-22T10:00:00Z');
const REF = 'bnf_0123456789abcdefghjkmnpqrs';
const clock = () => now;

const claims: Omit<TokenClaims, 'keyId'> = {
  tokenId: 'tok-1',
  subject: 'a'.repeat(64),
  audience: AUDIENCE.citizen,
  scopes: ['beneficiary:read'],
  issuedAt: new Date(now.getTime() - 60_000),
  expiresAt: new Date(now.getTime() + 14 * 60_000),
  purpose: 'CITIZEN_LOGIN',
  clientId: 'cowin-portal',
};

function sign(
  privateKey: KeyObject,
  kid: string,
  override: Partial<Omit<TokenClaims, 'keyId'>> = {},
) {
  return new SignJWT({ ...toPayload({ ...claims, ...override }) })
    .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
    .sign(privateKey);
}

function setup(published: PublicJwk[]) {
  let fetches = 0;
  const keys = new JwksCache(
    async () => {
      fetches++;
      return published;
    },
    { clock, minRefreshIntervalMs: 0 },
  );
  const revocations = new RevocationSet(clock);
  return {
    verifier: new TokenVerifier({ issuers: { [TOKEN_ISSUER]: keys }, revocations, clock }),
    revocations,
    fetches: () => fetches,
  };
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error) && error.code === 'UNAUTHENTICATED') return error.reason;
    throw error;
  }
  return undefined;
}

describe('TokenVerifier', () => {
  const k1 = keyPair('k1');

  it('accepts a token signed by a published key and returns its claims', async () => {
    const { verifier } = setup([k1.jwk]);
    const verified = await verifier.verify(await sign(k1.privateKey, 'k1'), AUDIENCE.citizen);
    expect(verified).toMatchObject({
      tokenId: 'tok-1',
      keyId: 'k1',
      clientId: 'cowin-portal',
      scopes: ['beneficiary:read'],
    });
  });

  it('carries the consent grant', async () => {
    const { verifier } = setup([k1.jwk]);
    const token = await sign(k1.privateKey, 'k1', {
      audience: AUDIENCE.consent,
      purpose: 'CONSENT',
      consent: { beneficiaryRefs: [REF], grantee: { kind: 'STAFF', id: 'staff-4' } },
    });
    const verified = await verifier.verify(token, AUDIENCE.consent);
    expect(verified.consent).toEqual({
      beneficiaryRefs: [REF],
      grantee: { kind: 'STAFF', id: 'staff-4' },
    });
  });

  it('refuses alg none', async () => {
    const { verifier } = setup([k1.jwk]);
    const unsecured = new UnsecuredJWT({ ...toPayload(claims) }).encode();
    expect(await refusal(verifier.verify(unsecured, AUDIENCE.citizen))).toBe('TOKEN_ALGORITHM');
  });

  it('refuses HS256 even keyed with the public key', async () => {
    const { verifier } = setup([k1.jwk]);
    const forged = await new SignJWT({ ...toPayload(claims) })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(Buffer.from(k1.jwk.x));
    expect(await refusal(verifier.verify(forged, AUDIENCE.citizen))).toBe('TOKEN_ALGORITHM');
  });

  it('refuses an unknown key id after one refetch', async () => {
    const { verifier, fetches } = setup([k1.jwk]);
    const other = keyPair('k-unknown');
    expect(
      await refusal(verifier.verify(await sign(other.privateKey, 'k-unknown'), AUDIENCE.citizen)),
    ).toBe('TOKEN_UNKNOWN_KEY');
    expect(fetches()).toBe(1);
  });

  it('refuses a token signed by another key under a published key id', async () => {
    const { verifier } = setup([k1.jwk]);
    const attacker = keyPair('k1');
    expect(
      await refusal(verifier.verify(await sign(attacker.privateKey, 'k1'), AUDIENCE.citizen)),
    ).toBe('TOKEN_SIGNATURE');
  });

  it('refuses an expired token', async () => {
    const { verifier } = setup([k1.jwk]);
    const token = await sign(k1.privateKey, 'k1', {
      issuedAt: new Date(now.getTime() - 20 * 60_000),
      expiresAt: new Date(now.getTime() - 5 * 60_000),
    });
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_EXPIRED');
  });

  it('refuses a token for another audience', async () => {
    const { verifier } = setup([k1.jwk]);
    expect(await refusal(verifier.verify(await sign(k1.privateKey, 'k1'), AUDIENCE.consent))).toBe(
      'TOKEN_AUDIENCE',
    );
  });

  it('refuses a revoked token until it would have expired anyway', async () => {
    const { verifier, revocations } = setup([k1.jwk]);
    revocations.add('tok-1', claims.expiresAt);
    expect(await refusal(verifier.verify(await sign(k1.privateKey, 'k1'), AUDIENCE.citizen))).toBe(
      'TOKEN_REVOKED',
    );
  });

  it('refuses a token from an issuer it does not trust, even signed by a published key', async () => {
    const { verifier } = setup([k1.jwk]);
    const token = await new SignJWT({ ...toPayload(claims), iss: 'someone-else' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .sign(k1.privateKey);
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_ISSUER');
    const inherited = await new SignJWT({ ...toPayload(claims), iss: 'constructor' })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .sign(k1.privateKey);
    expect(await refusal(verifier.verify(inherited, AUDIENCE.citizen))).toBe('TOKEN_ISSUER');
  });

  it('refuses a validly signed token that claims a longer life than any VaxGuard token', async () => {
    const { verifier } = setup([k1.jwk]);
    const token = await sign(k1.privateKey, 'k1', {
      issuedAt: new Date(now.getTime() - 60_000),
      expiresAt: new Date(now.getTime() + 24 * 3_600_000),
    });
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_LIFETIME');
  });

  it('refuses a payload changed after signing, and a cut or missing signature', async () => {
    const { verifier } = setup([k1.jwk]);
    const [header, payload, signature] = (await sign(k1.privateKey, 'k1')).split('.');
    const raised = Buffer.from(
      JSON.stringify({ ...toPayload(claims), scope: 'beneficiary:read admin' }),
    ).toString('base64url');
    for (const tampered of [
      `${header}.${raised}.${signature}`,
      `${header}.${payload}.${signature!.slice(0, 40)}`,
      `${header}.${payload}.`,
    ]) {
      expect(await refusal(verifier.verify(tampered, AUDIENCE.citizen))).toBe('TOKEN_SIGNATURE');
    }
  });

  it('refuses JWS extensions it cannot understand (crit)', async () => {
    const { verifier } = setup([k1.jwk]);
    const token = await new SignJWT({ ...toPayload(claims) })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', crit: ['vaxguard'], vaxguard: 1 })
      .sign(k1.privateKey, { crit: { vaxguard: true } });
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_MALFORMED');
  });

  it('refuses a signed token lacking a required claim or not valid yet', async () => {
    const { verifier } = setup([k1.jwk]);
    const withoutJti: Record<string, unknown> = { ...toPayload(claims) };
    delete withoutJti['jti'];
    const signedWith = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).sign(k1.privateKey);
    expect(await refusal(verifier.verify(await signedWith(withoutJti), AUDIENCE.citizen))).toBe(
      'TOKEN_INVALID',
    );
    const early = await signedWith({
      ...toPayload(claims),
      nbf: Math.floor(now.getTime() / 1000) + 60,
    });
    expect(await refusal(verifier.verify(early, AUDIENCE.citizen))).toBe('TOKEN_INVALID');
    const withoutExp: Record<string, unknown> = { ...toPayload(claims) };
    delete withoutExp['exp'];
    expect(await refusal(verifier.verify(await signedWith(withoutExp), AUDIENCE.citizen))).toBe(
      'TOKEN_INVALID',
    );
  });

  it('refuses garbage without echoing it', async () => {
    const { verifier } = setup([k1.jwk]);
    let message = '';
    try {
      await verifier.verify('not.a.token', AUDIENCE.citizen);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('the token is not a compact JWS');
  });

  it('checks a known token again for expiry, audience and revocation, not for its signature', async () => {
    let current = now;
    const keys = new JwksCache(async () => [k1.jwk], { clock: () => current });
    const revocations = new RevocationSet(() => current);
    const verifier = new TokenVerifier({
      issuers: { [TOKEN_ISSUER]: keys },
      revocations,
      clock: () => current,
      cacheSize: 2,
    });
    const token = await sign(k1.privateKey, 'k1');
    await verifier.verify(token, AUDIENCE.citizen);
    expect(await refusal(verifier.verify(token, AUDIENCE.consent))).toBe('TOKEN_AUDIENCE');
    await expect(
      verifier.verify(token, [AUDIENCE.consent, AUDIENCE.citizen]),
    ).resolves.toMatchObject({ tokenId: 'tok-1' });
    revocations.add('tok-1', claims.expiresAt);
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_REVOKED');
    current = new Date(claims.expiresAt.getTime() + 1);
    expect(await refusal(verifier.verify(token, AUDIENCE.citizen))).toBe('TOKEN_EXPIRED');
  });

  it('picks up a rotated key when a token names it', async () => {
    const published = [k1.jwk];
    const { verifier } = setup(published);
    await verifier.verify(await sign(k1.privateKey, 'k1'), AUDIENCE.citizen);
    const k2 = keyPair('k2');
    published.push(k2.jwk);
    await expect(
      verifier.verify(await sign(k2.privateKey, 'k2'), AUDIENCE.citizen),
    ).resolves.toMatchObject({
      keyId: 'k2',
    });
  });
});

describe('RevocationSet', () => {
  it('forgets revocations of tokens that have expired', () => {
    let current = now;
    const set = new RevocationSet(() => current);
    set.add('a', new Date(now.getTime() + 1_000));
    set.add('b', new Date(now.getTime() - 1));
    expect(set.isRevoked('a')).toBe(true);
    expect(set.isRevoked('b')).toBe(false);
    current = new Date(now.getTime() + 2_000);
    expect(set.isRevoked('a')).toBe(false);
    expect(set.prune()).toBe(0);
  });
});
