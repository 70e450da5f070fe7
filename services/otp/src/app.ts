import type { LogSink } from '@vaxguard/logging';
import { mobileBlindIndex } from '@vaxguard/pii';
import { otpV1 } from '@vaxguard/proto';
import { runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import { DevSmsSink } from './adapters/dev-sms-sink';
import { OTP_METHOD_POLICIES, OTP_SERVICE_NAME, otpHandlers } from './adapters/grpc-handlers';
import { OtpMetrics } from './adapters/otp-metrics';
import { PgOtpStore } from './adapters/pg-otp-store';
import { PgSmsDeliveries } from './adapters/pg-sms-deliveries';
import { SmppSmsSender } from './adapters/smpp-sms-sender';
import { Sealer } from '@vaxguard/sealing';
import { SIGNING_KEY_SEAL_CONTEXT, SigningKeys } from './adapters/signing-keys';
import type { Config } from './config';
import type { Clock, OtpDelivery } from './domain/model';
import { OtpService } from './domain/otp-service';
import { otpMigrations } from './migrations';

export { OTP_SERVICE_NAME };

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

/** The SMS port the configuration chose; an SMPP sender connects now and stops with the runtime. */
function createDelivery(
  config: Config,
  runtime: ServiceRuntime,
  deliveries: PgSmsDeliveries,
  clock: Clock,
): OtpDelivery {
  switch (config.smsDelivery) {
    case 'dev-sink':
      // readConfig guarantees the sink is named when the dev sink is chosen...
      return new DevSmsSink(config.devSmsSink ?? '');
    case 'smpp': {
      // ... and every SMPP setting when SMPP is chosen.
      if (!config.smpp) throw new Error('OTP_SMS_DELIVERY=smpp without its settings');
      const sender = new SmppSmsSender({
        ...config.smpp,
        records: deliveries,
        logger: runtime.logger.child({ component: 'smpp' }),
        clock,
      });
      sender.start();
      runtime.onStop(() => sender.stop());
      return sender;
    }
  }
}

/**
 * The OTP service's composition root: the shared runtime (given only its part of the
 * configuration), the PostgreSQL store, the signing keys (rotated and loaded before the
 * first call, and the keys this service's own token checks use), the SMS port, the
 * gRPC handlers, and the worker that rotates keys and prunes old rows. main.ts calls
 * this; so do in-process tests, which pass a controllable clock and a log sink.
 */
export async function createOtpApp(
  config: Config,
  overrides: OtpAppOverrides = {},
): Promise<OtpApp> {
  const clock = overrides.clock ?? (() => new Date());
  // The runtime's verifier asks for keys only when a token arrives, by which time
  // the signing keys below exist.
  let keys: SigningKeys | undefined;
  const runtime = await ServiceRuntime.create({
    service: 'otp',
    config: runtimeConfigOf(config),
    migrations: otpMigrations,
    tokenKeys: async () => (keys ? keys.publishedKeys() : []),
    methods: OTP_METHOD_POLICIES,
    clock,
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  try {
    const metrics = new OtpMetrics(runtime.metrics);
    const store = new PgOtpStore(
      runtime.pool,
      new Sealer(config.keyEncryptionKey, 'vaxguard/otp/txn-mobile/v1'),
      (events) => metrics.committed(events),
    );
    const deliveries = new PgSmsDeliveries(runtime.pool);
    keys = new SigningKeys({
      pool: runtime.pool,
      sealer: new Sealer(config.keyEncryptionKey, SIGNING_KEY_SEAL_CONTEXT),
      clock,
      rotationMs: config.signingKeyRotationMs,
      logger: runtime.logger.child({ component: 'signing-keys' }),
    });
    const signingKeys = keys;
    await signingKeys.maintain();
    const service = new OtpService({
      store,
      delivery: createDelivery(config, runtime, deliveries, clock),
      signer: signingKeys,
      clock,
      codeHashKey: config.otpHashKey,
      indexMobile: (mobile) => mobileBlindIndex(config.mobileIndexKey, mobile),
      // A partner's quota is its entry in identity's registry; others get the default.
      clientQuotaPerMinute: (clientId) =>
        runtime.accessRegistry.partner(clientId)?.quotaPerMinute ?? config.clientQuotaPerMinute,
      lockoutFailures: config.lockoutFailures,
      lockoutMs: config.lockoutMs,
    });
    runtime.server.addService(
      OTP_SERVICE_NAME,
      otpV1.OtpServiceService,
      otpHandlers(service, signingKeys),
    );
    runtime.every('otp-maintenance', config.signingKeyRefreshMs, async (signal) => {
      await signingKeys.maintain();
      await store.prune(clock(), () => signal.aborted);
    });
    // Delivery records go after DELIVERY_RECORD_RETENTION_MS, on the same beat.
    runtime.every('otp-sms-deliveries-prune', config.signingKeyRefreshMs, async (signal) => {
      await deliveries.prune(clock(), () => signal.aborted);
    });
    return { runtime, service, keys: signingKeys, store };
  } catch (error) {
    await runtime.stop();
    throw error;
  }
}
