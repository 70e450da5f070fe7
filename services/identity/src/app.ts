import { randomUUID } from 'node:crypto';
import type { LogSink } from '@vaxguard/logging';
import { hashClientSecret } from '@vaxguard/grpc-kit';
import { documentBlindIndex, mobileBlindIndex, type Mobile } from '@vaxguard/pii';
import { identityV1, otpV1 } from '@vaxguard/proto';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { AccessControlMetrics } from './adapters/access-control-metrics';
import { ConfigKeyProvider } from './adapters/config-key-provider';
import {
  IDENTITY_METHOD_POLICIES,
  IDENTITY_SERVICE_NAME,
  identityHandlers,
} from './adapters/grpc-handlers';
import { OtpPeer } from './adapters/otp-peer';
import { pruneIdentity } from './adapters/pg-identity-retention';
import { PgPrincipalStore } from './adapters/pg-principal-store';
import { PgBeneficiaryStore } from './adapters/pg-beneficiary-store';
import { EnvelopeVault } from './adapters/vault';
import type { Config } from './config';
import { BeneficiaryService } from './domain/beneficiary-service';
import { ConsentService } from './domain/consent-service';
import {
  CONSENT_CODE_LIFETIME_MS,
  hashSecretCode,
  indexStaffUsername,
} from './domain/identity-rules';
import { PrincipalService } from './domain/principals';
import { hashStaffPassword, verifyStaffPassword } from './domain/staff-passwords';
import { RETENTION_PRUNE_INTERVAL_MS } from './domain/identity-rules';
import { identityMigrations } from './migrations';

export interface IdentityApp {
  readonly runtime: ServiceRuntime;
  readonly beneficiaries: BeneficiaryService;
  readonly consents: ConsentService;
  readonly principals: PrincipalService;
}

/** What tests may replace: the clock and where log lines go. */
export interface IdentityAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

/**
 * The identity service's composition root: the shared runtime (given only its part of
 * the configuration: it checks client credentials and, on the methods that ask for one,
 * a citizen token or a consent grant), the vault that seals mobile and identity numbers
 * under the key-encryption keys, the keyed blind indexes, the PostgreSQL store and the
 * gRPC handlers. main.ts calls this; so do in-process tests.
 */
export async function createIdentityApp(
  config: Config,
  overrides: IdentityAppOverrides = {},
): Promise<IdentityApp> {
  const clock = overrides.clock ?? (() => new Date());
  const runtime = await ServiceRuntime.create({
    service: 'identity',
    config: runtimeConfigOf(config),
    peer: peerConfigOf(config),
    migrations: identityMigrations,
    methods: IDENTITY_METHOD_POLICIES,
    clock,
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  try {
    const vault = new EnvelopeVault(ConfigKeyProvider.fromList(config.keyEncryptionKeys));
    const store = new PgBeneficiaryStore(runtime.pool, vault);
    const indexMobile = (mobile: Mobile) => mobileBlindIndex(config.mobileIndexKey, mobile);
    const otp = new OtpPeer(runtime.peer(otpV1.OtpServiceService, config.otpAddress));
    const beneficiaries = new BeneficiaryService({
      store,
      clock,
      indexMobile,
      indexPhotoId: (photoId) => documentBlindIndex(config.documentIndexKey, photoId),
      hashSecretCode: (ref, code) => hashSecretCode(config.secretCodeKey, ref, code),
      grants: otp,
    });
    const consents = new ConsentService({
      store,
      codes: otp,
      clock,
      indexMobile,
      newTxnId: randomUUID,
      codeLifetimeMs: CONSENT_CODE_LIFETIME_MS,
    });
    const principals = new PrincipalService({
      store: new PgPrincipalStore(runtime.pool, vault),
      codes: otp,
      passwords: { hash: hashStaffPassword, verify: verifyStaffPassword },
      clock,
      indexMobile,
      // The blind-index key under the username label: domain-separated from mobiles.
      indexUsername: (username) => indexStaffUsername(config.mobileIndexKey, username),
      hashSecret: hashClientSecret,
    });
    if (config.bootstrapAdmin) {
      const created = await principals.bootstrapPlatformAdmin(
        { ...config.bootstrapAdmin, displayName: 'Platform admin (bootstrap)' },
        { kind: 'service', clientId: config.serviceClientId, scopes: [] },
      );
      if (created) runtime.logger.info('created the first platform admin from configuration');
    }
    runtime.server.addService(
      IDENTITY_SERVICE_NAME,
      identityV1.IdentityServiceService,
      identityHandlers(beneficiaries, consents, principals, (clientId) =>
        runtime.clientScopes(clientId),
      ),
    );
    runtime.sampleMetrics(new AccessControlMetrics(runtime.pool, runtime.metrics));
    runtime.every('identity-retention', RETENTION_PRUNE_INTERVAL_MS, async (signal) => {
      await pruneIdentity(runtime.pool, clock(), () => signal.aborted);
    });
    return { runtime, beneficiaries, consents, principals };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
