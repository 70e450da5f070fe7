import { generateKeyPairSync } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { isVaxGuardError } from '@vaxguard/errors';
import { clientMetadata, clientSecretAuthenticator, hashClientSecret } from '@vaxguard/grpc-kit';
import {
  AUDIENCE,
  JwksCache,
  RevocationSet,
  SERVICE_SCOPES,
  TOKEN_HEADER,
  TOKEN_ISSUER,
  TokenVerifier,
  toPayload,
  type TokenClaims,
} from '@vaxguard/tokens';
import { createAuthenticator } from './authenticator';

const now = new Date();
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const jwk = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: publicKey.export({ format: 'jwk' }).x as string,
  kid: 'k1',
  alg: 'EdDSA',
  use: 'sig',
};
const REF = 'bnf_0123456789abcdefghjkmnpqrs';
const METHOD = '/vaxguard.identity.v1.IdentityService/GetBeneficiary';

function sign(overrides: Partial<Omit<TokenClaims, 'keyId'>> = {}): Promise<string> {
  const claims: Omit<TokenClaims, 'keyId'> = {
    tokenId: 'tok-1',
    subject: 'a'.repeat(64),
    audience: AUDIENCE.citizen,
    scopes: [],
    issuedAt: new Date(now.getTime() - 1_000),
    expiresAt: new Date(now.getTime() + 60_000),
    purpose: 'CITIZEN_LOGIN',
    clientId: 'portal',
    ...overrides,
  };
  return new SignJWT({ ...toPayload(claims) })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
    .sign(privateKey);
}

const clients = ['portal', 'umang', 'svc-vaccination-record'].map((clientId) => ({
  clientId,
  secretSha256: hashClientSecret(`${clientId}-secret`),
  scopes: clientId.startsWith('svc-') ? [SERVICE_SCOPES.relayTokens] : [],
}));
const authenticate = createAuthenticator({
  clients: clientSecretAuthenticator(clients),
  verifier: new TokenVerifier({
    issuers: { [TOKEN_ISSUER]: new JwksCache(async () => [jwk]) },
    revocations: new RevocationSet(),
  }),
  methods: { [METHOD]: { token: [AUDIENCE.citizen, AUDIENCE.consent] } },
});

function metadata(clientId: string, token?: string): Metadata {
  const md = clientMetadata(clientId, `${clientId}-secret`);
  if (token) md.set(TOKEN_HEADER, token);
  return md;
}

async function refusal(promise: Promise<unknown>): Promise<[string, string | undefined]> {
  try {
    await promise;
  } catch (error) {
    if (isVaxGuardError(error)) return [error.code, error.reason];
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('createAuthenticator', () => {
  it('asks only client credentials of a method without a token policy', async () => {
    await expect(authenticate(metadata('portal'), '/other/Method')).resolves.toMatchObject({
      kind: 'client',
      id: 'portal',
    });
    expect(await refusal(authenticate(new Metadata(), '/other/Method'))).toEqual([
      'UNAUTHENTICATED',
      'MISSING_CREDENTIALS',
    ]);
  });

  it('refuses a method that asks for a token when none comes', async () => {
    expect(await refusal(authenticate(metadata('portal'), METHOD))).toEqual([
      'UNAUTHENTICATED',
      'TOKEN_REQUIRED',
    ]);
  });

  it('names the citizen, or the grantee of a consent grant, as the principal', async () => {
    await expect(authenticate(metadata('portal', await sign()), METHOD)).resolves.toMatchObject({
      kind: 'citizen',
      id: 'a'.repeat(64),
      clientId: 'portal',
    });
    const grant = await sign({
      audience: AUDIENCE.consent,
      purpose: 'CONSENT',
      clientId: 'umang',
      consent: { beneficiaryRefs: [REF], grantee: { kind: 'PARTNER_CLIENT', id: 'umang' } },
    });
    await expect(authenticate(metadata('umang', grant), METHOD)).resolves.toMatchObject({
      kind: 'client',
      id: 'umang',
      token: { consent: { beneficiaryRefs: [REF] } },
    });
  });

  it('refuses a token presented by another client, unless that client relays tokens', async () => {
    const token = await sign();
    expect(await refusal(authenticate(metadata('umang', token), METHOD))).toEqual([
      'UNAUTHENTICATED',
      'TOKEN_CLIENT',
    ]);
    await expect(
      authenticate(metadata('svc-vaccination-record', token), METHOD),
    ).resolves.toMatchObject({ kind: 'citizen', clientId: 'svc-vaccination-record' });
  });

  it('refuses a token for an audience the method does not take', async () => {
    const staff = await sign({ audience: AUDIENCE.staffSecondFactor, purpose: 'STAFF_LOGIN' });
    expect(await refusal(authenticate(metadata('portal', staff), METHOD))).toEqual([
      'UNAUTHENTICATED',
      'TOKEN_AUDIENCE',
    ]);
  });
});
