import type { Metadata } from '@grpc/grpc-js';
import { unauthenticated } from '@vaxguard/errors';
import { header, type Authenticator, type Principal } from '@vaxguard/grpc-kit';
import {
  AUDIENCE,
  SERVICE_SCOPES,
  TOKEN_HEADER,
  type Audience,
  type TokenClaims,
  type TokenVerifier,
} from '@vaxguard/tokens';

/** What a method asks of its caller beyond client credentials. */
export interface MethodPolicy {
  /** A VaxGuard token for one of these audiences, in the `x-vaxguard-token` header. */
  readonly token: readonly Audience[];
}

/** Policies by full method path, such as `/vaxguard.identity.v1.IdentityService/ListMyBeneficiaries`. */
export type MethodPolicies = Readonly<Record<string, MethodPolicy>>;

export interface AuthenticatorOptions {
  /** Authenticates the client application: every call, every method. */
  readonly clients: Authenticator;
  /** Verifies tokens; required when any method asks for one. */
  readonly verifier?: TokenVerifier;
  readonly methods?: MethodPolicies;
}

/**
 * The authenticator every service mounts: client credentials on every call and, on
 * the methods that ask for it, a VaxGuard token of a given audience, verified locally
 * against the issuers' published keys and the revocations heard so far.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const methods = options.methods ?? {};
  if (Object.keys(methods).length > 0 && !options.verifier) {
    throw new Error('methods that ask for a token need a token verifier');
  }
  return async (metadata: Metadata, method: string): Promise<Principal> => {
    const client = await options.clients(metadata, method);
    const policy = Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (!policy || !options.verifier) return client;
    const token = header(metadata, TOKEN_HEADER);
    if (!token) {
      throw unauthenticated(
        `this method needs a VaxGuard token (${policy.token.join(' or ')}) in ${TOKEN_HEADER}`,
        { reason: 'TOKEN_REQUIRED' },
      );
    }
    const claims = await options.verifier.verify(token, policy.token);
    if (
      claims.clientId !== client.clientId &&
      !client.scopes.includes(SERVICE_SCOPES.relayTokens)
    ) {
      throw unauthenticated('the token was issued to another client application', {
        reason: 'TOKEN_CLIENT',
      });
    }
    return principalOf(client, claims);
  };
}

/** The caller a token names: the citizen (by mobile index) or the grantee of a consent. */
function principalOf(client: Principal, claims: TokenClaims): Principal {
  const base = {
    clientId: client.clientId,
    scopes: claims.scopes,
    clientScopes: client.scopes,
    token: claims,
  };
  if (claims.audience === AUDIENCE.consent && claims.consent) {
    const { grantee } = claims.consent;
    return { ...base, kind: grantee.kind === 'STAFF' ? 'staff' : 'client', id: grantee.id };
  }
  if (claims.audience === AUDIENCE.staffSecondFactor) {
    return { ...base, kind: 'staff', id: claims.subject };
  }
  return { ...base, kind: 'citizen', id: claims.subject };
}
