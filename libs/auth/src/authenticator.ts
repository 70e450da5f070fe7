import type { Metadata } from '@grpc/grpc-js';
import { permissionDenied, unauthenticated } from '@vaxguard/errors';
import { header, type Authenticator, type Principal } from '@vaxguard/grpc-kit';
import {
  AUDIENCE,
  SERVICE_SCOPES,
  TOKEN_HEADER,
  type Audience,
  type TokenClaims,
  type TokenVerifier,
} from '@vaxguard/tokens';
import type { AccessRegistry } from './access-registry';

/** What a method asks of its caller beyond client credentials. */
export interface MethodPolicy {
  /** A VaxGuard token for one of these audiences, in the `x-vaxguard-token` header. */
  readonly token: readonly Audience[];
  /** The token may be left out: the call is then the client application's own. */
  readonly optional?: boolean;
}

/**
 * Methods no API lock closes: the kill switch itself (or a lock on everything would
 * lock out the admins who clear it) and the published signing keys every service
 * needs to verify the admins' tokens. Each is still authenticated as usual.
 */
export const LOCK_EXEMPT_METHODS: ReadonlySet<string> = new Set(
  [
    'SetApiLock',
    'ClearApiLock',
    'SuspendPrincipal',
    'ReinstatePrincipal',
    'LockPartner',
    'UnlockPartner',
  ]
    .map((method) => `/vaxguard.identity.v1.IdentityService/${method}`)
    .concat('/vaxguard.otp.v1.OtpService/GetSigningKeys'),
);

/** Policies by full method path, such as `/vaxguard.identity.v1.IdentityService/ListMyBeneficiaries`. */
export type MethodPolicies = Readonly<Record<string, MethodPolicy>>;

export interface AuthenticatorOptions {
  /** Authenticates the client application: every call, every method. */
  readonly clients: Authenticator;
  /** Verifies tokens; required when any method asks for one. */
  readonly verifier?: TokenVerifier;
  readonly methods?: MethodPolicies;
  /**
   * Identity's access registry, replicated in memory: partner locks, suspended
   * principals and API locks are enforced on every call from it.
   */
  readonly registry?: AccessRegistry;
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
  const registry = options.registry;
  return async (metadata: Metadata, method: string): Promise<Principal> => {
    const client = await options.clients(metadata, method);
    if (registry) checkClient(registry, client.clientId, method);
    const policy = Object.hasOwn(methods, method) ? methods[method] : undefined;
    if (!policy || !options.verifier) return client;
    const token = header(metadata, TOKEN_HEADER);
    if (!token && policy.optional) return client;
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
    if (registry) checkTokenHolder(registry, claims);
    return principalOf(client, claims);
  };
}

/**
 * A suspended client application (registered with identity or configured here: the
 * suspension is keyed by client id alone) and a locked partner are refused every call,
 * the kill switch's own methods included.
 */
function checkClient(registry: AccessRegistry, clientId: string, method: string): void {
  if (registry.isSuspended('PARTNER_CLIENT', clientId)) {
    throw permissionDenied('this client application is suspended by the platform operators', {
      reason: 'PRINCIPAL_SUSPENDED',
    });
  }
  if (registry.partner(clientId)?.locked) {
    throw permissionDenied('this client application is locked by the platform operators', {
      reason: 'PARTNER_LOCKED',
    });
  }
  if (LOCK_EXEMPT_METHODS.has(method)) return;
  const lock = registry.lockOn(method, clientId);
  if (lock) {
    throw permissionDenied(`this API is locked by the platform operators (${lock.kind} lock)`, {
      reason: 'API_LOCKED',
    });
  }
}

/** A suspended staff member's live tokens, and grants naming a locked grantee, are refused. */
export function checkTokenHolder(registry: AccessRegistry, claims: TokenClaims): void {
  const staffId = claims.audience === AUDIENCE.staff ? claims.subject : undefined;
  const grantee = claims.consent?.grantee;
  const suspended =
    (staffId !== undefined && registry.isSuspended('STAFF', staffId)) ||
    (grantee?.kind === 'STAFF' && registry.isSuspended('STAFF', grantee.id)) ||
    (grantee?.kind === 'PARTNER_CLIENT' &&
      (registry.isSuspended('PARTNER_CLIENT', grantee.id) ||
        registry.partner(grantee.id)?.locked === true));
  if (suspended) {
    throw permissionDenied('the principal this token names is suspended', {
      reason: 'PRINCIPAL_SUSPENDED',
    });
  }
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
  if (claims.audience === AUDIENCE.staff) {
    return { ...base, kind: 'staff', id: claims.subject };
  }
  return { ...base, kind: 'citizen', id: claims.subject };
}
