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
import { AccessRegistry } from './access-registry';
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
    const staff = await sign({ audience: AUDIENCE.staff, purpose: 'STAFF_LOGIN' });
    expect(await refusal(authenticate(metadata('portal', staff), METHOD))).toEqual([
      'UNAUTHENTICATED',
      'TOKEN_AUDIENCE',
    ]);
  });
});

describe('createAuthenticator with the access registry', () => {
  const STAFF_METHOD = '/vaxguard.identity.v1.IdentityService/RequestConsent';
  const CLEAR = '/vaxguard.identity.v1.IdentityService/ClearApiLock';
  function setup() {
    const registry = new AccessRegistry();
    registry.setPartner({
      clientId: 'aarogya',
      displayName: 'Aarogya Setu',
      secretSha256: hashClientSecret('aarogya-secret'),
      scopes: ['beneficiary:demographics'],
      quotaPerMinute: 100,
      locked: false,
    });
    const authenticate = createAuthenticator({
      clients: clientSecretAuthenticator({
        find: (id) => clients.find((client) => client.clientId === id) ?? registry.find(id),
      }),
      verifier: new TokenVerifier({
        issuers: { [TOKEN_ISSUER]: new JwksCache(async () => [jwk]) },
        revocations: new RevocationSet(),
      }),
      methods: {
        [METHOD]: { token: [AUDIENCE.citizen, AUDIENCE.consent] },
        [STAFF_METHOD]: { token: [AUDIENCE.staff], optional: true },
      },
      registry,
    });
    return { registry, authenticate };
  }
  const staffToken = () =>
    sign({
      audience: AUDIENCE.staff,
      purpose: 'STAFF_LOGIN',
      subject: 'stf-1',
      staff: { role: 'VACCINATOR', centreId: 'ctr-1' },
    });

  it("authenticates a partner from identity's registry, and refuses it once locked", async () => {
    const { registry, authenticate } = setup();
    await expect(authenticate(metadata('aarogya'), '/any/Method')).resolves.toMatchObject({
      kind: 'client',
      id: 'aarogya',
      scopes: ['beneficiary:demographics'],
    });
    registry.setPartner({ ...registry.partner('aarogya')!, locked: true });
    expect(await refusal(authenticate(metadata('aarogya'), '/any/Method'))).toEqual([
      'PERMISSION_DENIED',
      'PARTNER_LOCKED',
    ]);
  });

  it("refuses a suspended staff member's live session, and grants naming them", async () => {
    const { registry, authenticate } = setup();
    const session = await staffToken();
    await expect(authenticate(metadata('portal', session), STAFF_METHOD)).resolves.toMatchObject({
      kind: 'staff',
      id: 'stf-1',
    });
    const grant = await sign({
      audience: AUDIENCE.consent,
      purpose: 'SECRET_CODE',
      consent: { beneficiaryRefs: [REF], grantee: { kind: 'STAFF', id: 'stf-1' } },
    });
    registry.setSuspended('STAFF', 'stf-1', true);
    expect(await refusal(authenticate(metadata('portal', session), STAFF_METHOD))).toEqual([
      'PERMISSION_DENIED',
      'PRINCIPAL_SUSPENDED',
    ]);
    expect(await refusal(authenticate(metadata('portal', grant), METHOD))).toEqual([
      'PERMISSION_DENIED',
      'PRINCIPAL_SUSPENDED',
    ]);
    registry.setSuspended('STAFF', 'stf-1', false);
    await expect(authenticate(metadata('portal', session), STAFF_METHOD)).resolves.toBeDefined();
  });

  it('refuses a suspended client application on every call, configured or registered, the kill switch included', async () => {
    const { registry, authenticate } = setup();
    const citizen = await sign();
    // 'portal' is configured here; identity never registered it.
    registry.setSuspended('PARTNER_CLIENT', 'portal', true);
    for (const [method, token] of [
      [METHOD, citizen],
      [CLEAR, undefined],
    ] as const) {
      expect(await refusal(authenticate(metadata('portal', token), method))).toEqual([
        'PERMISSION_DENIED',
        'PRINCIPAL_SUSPENDED',
      ]);
    }
    registry.setSuspended('PARTNER_CLIENT', 'aarogya', true);
    expect(await refusal(authenticate(metadata('aarogya'), '/any/Method'))).toEqual([
      'PERMISSION_DENIED',
      'PRINCIPAL_SUSPENDED',
    ]);
    await expect(authenticate(metadata('umang'), '/any/Method')).resolves.toBeDefined();
    registry.setSuspended('PARTNER_CLIENT', 'portal', false);
    await expect(authenticate(metadata('portal', citizen), METHOD)).resolves.toBeDefined();
  });

  it('takes the call as the client its own when an optional token is left out', async () => {
    const { authenticate } = setup();
    await expect(authenticate(metadata('umang'), STAFF_METHOD)).resolves.toMatchObject({
      kind: 'client',
      id: 'umang',
    });
  });

  it('closes a method, a service, a partner or everything; never the kill switch itself', async () => {
    const { registry, authenticate } = setup();
    const scopes = [
      { kind: 'method', method: METHOD },
      { kind: 'service', service: 'vaxguard.identity.v1.IdentityService' },
      { kind: 'partner', clientId: 'portal' },
      { kind: 'everything' },
    ] as const;
    const citizen = await sign();
    for (const scope of scopes) {
      registry.setLock(scope, true);
      expect(await refusal(authenticate(metadata('portal', citizen), METHOD))).toEqual([
        'PERMISSION_DENIED',
        'API_LOCKED',
      ]);
      await expect(authenticate(metadata('portal'), CLEAR)).resolves.toBeDefined();
      registry.setLock(scope, false);
      await expect(authenticate(metadata('portal', citizen), METHOD)).resolves.toBeDefined();
    }
    // A lock on one method or one partner leaves the others open.
    registry.setLock({ kind: 'partner', clientId: 'umang' }, true);
    registry.setLock({ kind: 'method', method: '/vaxguard.otp.v1.OtpService/GenerateOtp' }, true);
    await expect(authenticate(metadata('portal', citizen), METHOD)).resolves.toBeDefined();
  });
});
