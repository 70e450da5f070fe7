import type { LogSink } from '@vaxguard/logging';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import type { Config } from './config';
import { auditMigrations } from './migrations';

export interface AuditApp {
  readonly runtime: ServiceRuntime;
}

/** What tests may replace: the clock and where log lines go. */
export interface AuditAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

/**
 * The audit service's composition root: the shared runtime (given only its part of the
 * configuration: it checks client credentials and tokens, with signing keys fetched
 * from the OTP service and revocations heard from Kafka). It serves health and
 * reflection only until its domain arrives with its issue (../shared/ROADMAP.md).
 */
export async function createAuditApp(
  config: Config,
  overrides: AuditAppOverrides = {},
): Promise<AuditApp> {
  const runtime = await ServiceRuntime.create({
    service: 'audit',
    config: runtimeConfigOf(config),
    peer: peerConfigOf(config),
    migrations: auditMigrations,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  return { runtime };
}
