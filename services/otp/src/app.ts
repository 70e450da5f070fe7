import { clientSecretAuthenticator } from '@vaxguard/grpc-kit';
import type { LogSink } from '@vaxguard/logging';
import { mobileBlindIndex } from '@vaxguard/pii';
import { otpV1 } from '@vaxguard/proto';
import { ServiceRuntime } from '@vaxguard/runtime';
import { DevSmsSink } from './adapters/dev-sms-sink';
import { otpHandlers } from './adapters/grpc-handlers';
import { startPeriodic } from './adapters/periodic';
import { PgOtpStore } from './adapters/pg-otp-store';
import { Sealer } from './adapters/sealing';
import { SigningKeys } from './adapters/signing-keys';
import type { Config } from './config';
import type { Clock, OtpDelivery } from './domain/model';
import { OtpService } from './domain/otp-service';
import { otpMigrations } from './migrations';

export const OTP_SERVICE_NAME = 'vaxguard.otp.v1.OtpService';

export interface OtpApp {
  readonly runtime: ServiceRuntime;
  readonly service: OtpService;
  readonly keys: SigningKeys;
  readonly store: PgOtpStore;
}

/** What tests may replace: the clock (to step through expiry) and where log lines go. */
export interface OtpAppOverrides {
  readonly clock?: Clock;
  readonly logSink?: LogSink;
}

function createDelivery(config: Config): OtpDelivery {
  switch (config.smsDelivery) {
    case 'dev-sink':
      // readConfig guarantees the sink is named when the dev sink is chosen.
      return new DevSmsSink(config.devSmsSink ?? '');
  }
}

/**
 * Builds the OTP service on the shared runtime: the PostgreSQL store, the signing keys
 * (rotated and loaded before the first call), the SMS port, the gRPC handlers, and
 * the worker that rotates keys and prunes old rows. main.ts calls this and nothing
 * else does, apart from in-process tests that pass a controllable clock.
 */
export async function createOtpApp(
  config: Config,
  overrides: OtpAppOverrides = {},
): Promise<OtpApp> {
  const clock = overrides.clock ?? (() => new Date());
  const runtime = await ServiceRuntime.create({
    service: 'otp',
    ...config,
    migrations: otpMigrations,
    authenticate: clientSecretAuthenticator(config.clientCredentials),
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  try {
    const store = new PgOtpStore(
      runtime.pool,
      new Sealer(config.keyEncryptionKey, 'txn-mobile/v1'),
    );
    const keys = new SigningKeys({
      pool: runtime.pool,
      sealer: new Sealer(config.keyEncryptionKey, 'signing-key/v1'),
      clock,
      rotationMs: config.signingKeyRotationMs,
      logger: runtime.logger.child({ component: 'signing-keys' }),
    });
    await keys.maintain();
    const service = new OtpService({
      store,
      delivery: createDelivery(config),
      signer: keys,
      clock,
      codeHashKey: config.otpHashKey,
      indexMobile: (mobile) => mobileBlindIndex(config.mobileIndexKey, mobile),
      clientQuotaPerMinute: config.clientQuotaPerMinute,
      lockoutFailures: config.lockoutFailures,
      lockoutMs: config.lockoutMs,
    });
    runtime.server.addService(
      OTP_SERVICE_NAME,
      otpV1.OtpServiceService,
      otpHandlers(service, keys),
    );
    const maintenance = startPeriodic(
      async () => {
        await keys.maintain();
        await store.prune(clock());
      },
      config.signingKeyRefreshMs,
      runtime.logger.child({ component: 'otp-maintenance' }),
    );
    runtime.onStop(() => maintenance.stop());
    return { runtime, service, keys, store };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
