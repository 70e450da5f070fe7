import type { Kafka } from 'kafkajs';
import {
  EVENTS,
  isEvent,
  PRINCIPAL_KIND,
  type PrincipalKindValue,
} from '@vaxguard/event-catalogue';
import { BroadcastListener } from '@vaxguard/events';
import type { ClientCredential, ClientRegistry } from '@vaxguard/grpc-kit';
import type { Logger } from '@vaxguard/logging';
import type { identityV1 } from '@vaxguard/proto';
import { apiLockKey, apiLockKeysFor, type ApiLockScope } from '@vaxguard/tokens';

export function apiLockScopeFromProto(
  scope: identityV1.ApiLockScope | undefined,
): ApiLockScope | undefined {
  switch (scope?.scope?.$case) {
    case 'method':
      return { kind: 'method', method: scope.scope.value };
    case 'service':
      return { kind: 'service', service: scope.scope.value };
    case 'partnerClientId':
      return { kind: 'partner', clientId: scope.scope.value };
    case 'everything':
      return scope.scope.value ? { kind: 'everything' } : undefined;
    default:
      return undefined;
  }
}

export function apiLockScopeToProto(scope: ApiLockScope): identityV1.ApiLockScope {
  switch (scope.kind) {
    case 'method':
      return { scope: { $case: 'method', value: scope.method } };
    case 'service':
      return { scope: { $case: 'service', value: scope.service } };
    case 'partner':
      return { scope: { $case: 'partnerClientId', value: scope.clientId } };
    case 'everything':
      return { scope: { $case: 'everything', value: true } };
  }
}

/** A partner client application as identity registered it. */
export interface PartnerEntry extends ClientCredential {
  readonly displayName: string;
  readonly quotaPerMinute: number;
  readonly locked: boolean;
}

/**
 * The access registry every service holds in memory: partner clients, suspended
 * principals and API locks, as identity publishes them. The authenticator answers
 * every call from it, with no database round trip. Suspensions of client applications
 * are keyed by client id alone, so they reach clients configured at a service
 * (CLIENT_CREDENTIALS) that identity never registered.
 */
export class AccessRegistry implements ClientRegistry {
  private readonly partners = new Map<string, PartnerEntry>();
  private readonly suspended = new Set<string>();
  private readonly locks = new Map<string, ApiLockScope>();
  /** When the registry last changed, for measuring how fast a change reaches a service. */
  lastChangeAt: Date | undefined;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  find(clientId: string): ClientCredential | undefined {
    return this.partners.get(clientId);
  }

  partner(clientId: string): PartnerEntry | undefined {
    return this.partners.get(clientId);
  }

  isSuspended(kind: PrincipalKindValue, id: string): boolean {
    return this.suspended.has(`${kind}:${id}`);
  }

  /** The lock, if any, that closes this method to this client. */
  lockOn(method: string, clientId: string): ApiLockScope | undefined {
    if (this.locks.size === 0) return undefined;
    for (const key of apiLockKeysFor(method, clientId)) {
      const lock = this.locks.get(key);
      if (lock) return lock;
    }
    return undefined;
  }

  /** The locks in force, for operators. */
  activeLocks(): ApiLockScope[] {
    return [...this.locks.values()];
  }

  setPartner(entry: PartnerEntry): void {
    this.partners.set(entry.clientId, entry);
    this.changed();
  }

  setSuspended(kind: PrincipalKindValue, id: string, suspended: boolean): void {
    const key = `${kind}:${id}`;
    if (suspended) this.suspended.add(key);
    else this.suspended.delete(key);
    this.changed();
  }

  setLock(scope: ApiLockScope, locked: boolean): void {
    const key = apiLockKey(scope);
    if (locked) this.locks.set(key, scope);
    else this.locks.delete(key);
    this.changed();
  }

  private changed(): void {
    this.lastChangeAt = this.clock();
  }
}

export interface AccessRegistryListenerOptions {
  readonly kafka: Kafka;
  readonly service: string;
  readonly registry: AccessRegistry;
  readonly logger: Logger;
}

/**
 * Feeds an AccessRegistry from identity's compacted registry topic, read from the
 * beginning (compaction keeps the last record of each partner, principal and lock), so
 * a service that starts later knows every lock in force before it serves.
 */
export function startAccessRegistryListener(
  options: AccessRegistryListenerOptions,
): Promise<BroadcastListener> {
  const { registry } = options;
  return BroadcastListener.start({
    kafka: options.kafka,
    name: `vaxguard.${options.service}.access-registry`,
    events: [EVENTS.registryPartner, EVENTS.registryPrincipal, EVENTS.registryApiLock],
    since: new Date(0),
    logger: options.logger,
    onEvent: (event) => {
      if (isEvent(event, EVENTS.registryPartner)) {
        const entry = event.payload;
        registry.setPartner({
          clientId: entry.clientId,
          displayName: entry.displayName,
          secretSha256: Buffer.from(entry.secretSha256),
          scopes: entry.scopes,
          quotaPerMinute: entry.quotaPerMinute,
          locked: entry.locked,
        });
      } else if (isEvent(event, EVENTS.registryPrincipal)) {
        const kind = PRINCIPAL_KIND.fromProto(event.payload.principal?.kind ?? 0);
        const id = event.payload.principal?.id ?? '';
        if (kind && id) registry.setSuspended(kind, id, event.payload.suspended);
      } else if (isEvent(event, EVENTS.registryApiLock)) {
        const scope = apiLockScopeFromProto(event.payload.scope);
        if (scope) registry.setLock(scope, event.payload.locked);
      }
    },
  });
}
