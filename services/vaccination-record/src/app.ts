import { hkdfSync } from 'node:crypto';
import type { LogSink } from '@vaxguard/logging';
import { identityV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { Sealer } from '@vaxguard/sealing';
import {
  VACCINATION_RECORD_METHOD_POLICIES,
  VACCINATION_RECORD_SERVICE_NAME,
  vaccinationRecordHandlers,
} from './adapters/grpc-handlers';
import { ConsentGrantVerifier, IdentityPeer } from './adapters/identity-peer';
import { startIssuerHttp } from './adapters/issuer-http';
import { PgCentreDirectory, startCentreProjection } from './adapters/pg-centre-directory';
import { ISSUER_KEY_CONTEXT, PgIssuerKeyring } from './adapters/pg-issuer-keyring';
import { pruneRecords } from './adapters/pg-record-retention';
import { PgRecordStore } from './adapters/pg-record-store';
import type { Config } from './config';
import { AccessDecisions } from './domain/access-decisions';
import { CertificateService } from './domain/certificate-service';
import { DoseService } from './domain/dose-service';
import { RETENTION_PRUNE_INTERVAL_MS } from './domain/record-rules';
import { vaccinationRecordMigrations } from './migrations';

export interface VaccinationRecordApp {
  readonly runtime: ServiceRuntime;
  readonly doses: DoseService;
  readonly certificates: CertificateService;
  readonly keys: PgIssuerKeyring;
  /** Where the issuer's keys are served over HTTP, when ISSUER_HTTP_PORT is set. */
  readonly issuerHttpPort: number | undefined;
}

/** What tests may replace: the clock and where log lines go. */
export interface VaccinationRecordAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

// Uses of the one key-encryption key, each its own derived key.
// Exported: the scale benchmark seeds certificates with the rids this service derives.
export const RID_SECRET_CONTEXT = 'vaxguard/vaccination-record/rid-secret';

/**
 * The vaccination-record service's composition root: the shared runtime (client
 * credentials and tokens checked on every call, staff sessions and citizen tokens by
 * method), identity reached with this service's credentials and the user's token
 * relayed, the PostgreSQL store of doses and certificates, the centres' names read from
 * identity's centre.created events, the issuer keys sealed under the key-encryption key,
 * and, when configured, the keys over HTTP on localhost.
 */
export async function createVaccinationRecordApp(
  config: Config,
  overrides: VaccinationRecordAppOverrides = {},
): Promise<VaccinationRecordApp> {
  const clock = overrides.clock ?? (() => new Date());
  const runtime = await ServiceRuntime.create({
    service: 'vaccination-record',
    config: runtimeConfigOf(config),
    peer: peerConfigOf(config),
    migrations: vaccinationRecordMigrations,
    methods: VACCINATION_RECORD_METHOD_POLICIES,
    clock,
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  try {
    const keys = new PgIssuerKeyring(
      runtime.pool,
      new Sealer(config.issuerKeyEncryptionKey, ISSUER_KEY_CONTEXT),
      clock,
    );
    await keys.ensureKey();
    const identity = new IdentityPeer(
      runtime.peer(identityV1.IdentityServiceService, config.identityAddress, {
        deadlineMs: 5_000,
      }),
    );
    // The centres' names for certificates, from identity's centre.created (see why there).
    const centres = await startCentreProjection({
      kafka: runtime.kafka,
      pool: runtime.pool,
      logger: runtime.logger.child({ component: 'centre-names' }),
      lag: runtime.consumerLag,
    });
    runtime.onStop(async () => centres.stop());
    const store = new PgRecordStore(
      runtime.pool,
      runtime.logger.child({ component: 'record-store' }),
    );
    const access = new AccessDecisions({
      store,
      directory: identity,
      grants: new ConsentGrantVerifier(runtime.verifier, runtime.accessRegistry),
      clock,
      staffBeneficiariesPerHour: config.staffBeneficiariesPerHour,
    });
    const certificates = new CertificateService({
      store,
      access,
      centres: new PgCentreDirectory(runtime.pool),
      keys,
      clock,
      issuer: config.issuerUrl,
      ridSecret: Buffer.from(
        hkdfSync('sha256', config.issuerKeyEncryptionKey, Buffer.alloc(0), RID_SECRET_CONTEXT, 32),
      ),
    });
    const doses = new DoseService({ store, access, certificates, clock });
    runtime.every('record-retention', RETENTION_PRUNE_INTERVAL_MS, async (signal) => {
      await pruneRecords(runtime.pool, clock(), () => signal.aborted);
    });
    runtime.server.addService(
      VACCINATION_RECORD_SERVICE_NAME,
      vaccinationRecordV1.VaccinationRecordServiceService,
      vaccinationRecordHandlers({ doses, certificates }, runtime.accessRegistry, config.issuerUrl),
    );
    let issuerHttpPort: number | undefined;
    if (config.issuerHttpPort !== undefined) {
      const http = await startIssuerHttp({
        records: certificates,
        issuer: config.issuerUrl,
        port: config.issuerHttpPort,
        host: config.httpBindHost,
        logger: runtime.logger.child({ component: 'issuer-http' }),
      });
      runtime.onStop(() => http.close());
      issuerHttpPort = http.port;
      runtime.logger.info('issuer keys served over http', { port: http.port });
    }
    return { runtime, doses, certificates, keys, issuerHttpPort };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
