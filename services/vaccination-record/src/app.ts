import type { LogSink } from '@vaxguard/logging';
import { peerConfigOf, runtimeConfigOf, ServiceRuntime } from '@vaxguard/runtime';
import type { Config } from './config';
import { vaccinationRecordMigrations } from './migrations';

export interface VaccinationRecordApp {
  readonly runtime: ServiceRuntime;
}

/** What tests may replace: the clock and where log lines go. */
export interface VaccinationRecordAppOverrides {
  readonly clock?: () => Date;
  readonly logSink?: LogSink;
}

/**
 * The vaccination-record service's composition root: the shared runtime (given only its part of the
 * configuration: it checks client credentials and tokens, with signing keys fetched
 * from the OTP service and revocations heard from Kafka). It serves health and
 * reflection only until its domain arrives with its issue (../shared/ROADMAP.md).
 */
export async function createVaccinationRecordApp(
  config: Config,
  overrides: VaccinationRecordAppOverrides = {},
): Promise<VaccinationRecordApp> {
  const runtime = await ServiceRuntime.create({
    service: 'vaccination-record',
    config: runtimeConfigOf(config),
    peer: peerConfigOf(config),
    migrations: vaccinationRecordMigrations,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.logSink ? { logSink: overrides.logSink } : {}),
  });
  return { runtime };
}
