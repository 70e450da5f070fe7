import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { unauthenticated } from '@vaxguard/errors';
import type { TokenClaims } from '@vaxguard/tokens';

/** Who is calling, as established by the server's authenticator. */
export interface Principal {
  readonly kind: 'client' | 'staff' | 'citizen' | 'service';
  readonly id: string;
  /** The client application the call came through. */
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** The client application's own scopes, when the principal is the token's holder. */
  readonly clientScopes?: readonly string[];
  /** The verified VaxGuard token, on methods that ask for one. */
  readonly token?: TokenClaims;
}

/** The authentication hook: runs before every handler, throws to refuse the call. */
export type Authenticator = (metadata: Metadata, method: string) => Promise<Principal>;

export const CLIENT_ID_HEADER = 'x-vaxguard-client-id';
const AUTHORIZATION_HEADER = 'authorization';

/** The first value of a text metadata entry. */
export function header(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

export function bearerToken(metadata: Metadata): string | undefined {
  const value = header(metadata, AUTHORIZATION_HEADER);
  const match = value === undefined ? null : /^Bearer\s+(\S+)$/i.exec(value);
  return match?.[1];
}

/** A registered client application: its id and the SHA-256 of its secret. */
export interface ClientCredential {
  readonly clientId: string;
  readonly secretSha256: Buffer;
  readonly scopes: readonly string[];
}

export function hashClientSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Parses `id:sha256hex[:scope+scope]` entries separated by commas, the form client
 * credentials take in configuration.
 */
export function parseClientCredentials(text: string): ClientCredential[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      // Scope names may hold colons (`otp:on-behalf`): everything after the hash.
      const [clientId, hash, ...scopeParts] = entry.split(':');
      const scopes = scopeParts.join(':');
      if (
        !clientId ||
        !/^[a-z0-9][a-z0-9._-]{1,63}$/.test(clientId) ||
        !hash ||
        !/^[0-9a-f]{64}$/.test(hash)
      ) {
        throw new Error('each entry must be client-id:sha256-hex-of-secret[:scope+scope]');
      }
      return {
        clientId,
        secretSha256: Buffer.from(hash, 'hex'),
        scopes: scopes ? scopes.split('+').filter(Boolean) : [],
      };
    });
}

/** Where the authenticator looks client applications up: configuration today, identity's registry later. */
export interface ClientRegistry {
  find(clientId: string): ClientCredential | undefined;
}

function isClientList(
  clients: readonly ClientCredential[] | ClientRegistry,
): clients is readonly ClientCredential[] {
  return Array.isArray(clients);
}

/** A registry of the clients named in configuration. */
export function staticClientRegistry(credentials: readonly ClientCredential[]): ClientRegistry {
  const byId = new Map(credentials.map((credential) => [credential.clientId, credential]));
  return { find: (clientId) => byId.get(clientId) };
}

/**
 * Authenticates client applications by id and secret (`x-vaxguard-client-id` and
 * `authorization: Bearer <secret>`), comparing hashes in constant time. The secret is
 * never logged or echoed.
 */
export function clientSecretAuthenticator(
  clients: readonly ClientCredential[] | ClientRegistry,
): Authenticator {
  const registry = isClientList(clients) ? staticClientRegistry(clients) : clients;
  return async (metadata) => {
    const clientId = header(metadata, CLIENT_ID_HEADER);
    const secret = bearerToken(metadata);
    if (!clientId || !secret) {
      throw unauthenticated(
        `calls need ${CLIENT_ID_HEADER} and authorization: Bearer <client secret>`,
        {
          reason: 'MISSING_CREDENTIALS',
        },
      );
    }
    const credential = registry.find(clientId);
    const presented = hashClientSecret(secret);
    // Compare even for unknown ids so timing does not reveal which ids exist.
    const expected = credential?.secretSha256 ?? Buffer.alloc(32);
    if (!timingSafeEqual(presented, expected) || !credential) {
      throw unauthenticated('unknown client or wrong client secret', { reason: 'BAD_CREDENTIALS' });
    }
    return { kind: 'client', id: clientId, clientId, scopes: credential.scopes };
  };
}
