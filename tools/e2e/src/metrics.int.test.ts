// Issue 19, metrics: every service serves Prometheus metrics, a real Prometheus scrapes
// them with the repository's alerting rules, and a rule goes to firing. One platform for
// the file. Prometheus loads deploy/prometheus/rules.yml with every `for:` cut to 1 s and
// scrapes and evaluates each second (rulesWithFor), so the service-down alert fires in
// seconds rather than the minute the rule asks for; the rules as written are unit-tested
// by promtool (prometheus-rules.int.test.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { PLATFORM_SERVICES, type PlatformServiceName } from '@vaxguard/dev-platform';
import { otpV1 } from '@vaxguard/proto';
import {
  ALERT_RULES_FILE,
  callAs,
  eventually,
  outcomeOf,
  prometheusConfig,
  rulesWithFor,
  samplesOf,
  scrapeMetrics,
  startPrometheus,
  startWorld,
  suspiciousLabelValues,
  type RunningPrometheus,
  type Scrape,
  type World,
} from '@vaxguard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Sends allowed to one mobile in 15 minutes (otp-rules MOBILE_QUOTA_15M): one more is refused. */
const MOBILE_QUOTA_15M = 5;

const GRPC_SERVICE: Record<PlatformServiceName, string> = {
  otp: 'vaxguard.otp.v1.OtpService',
  identity: 'vaxguard.identity.v1.IdentityService',
  'vaccination-record': 'vaxguard.vaccination_record.v1.VaccinationRecordService',
  audit: 'vaxguard.audit.v1.AuditService',
};

describe('e2e: metrics and alerts', () => {
  let world: World;
  let prometheus: RunningPrometheus;
  let dir: string;
  const metricsUrl = (service: PlatformServiceName): string => {
    const url = world.platform.processes[service]?.metricsUrl;
    if (!url) throw new Error(`${service} serves no metrics`);
    return url;
  };
  const sum = (scrape: Scrape, name: string, labels: Record<string, string> = {}) =>
    samplesOf(scrape, name, labels).reduce((total, sample) => total + sample.value, 0);

  beforeAll(async () => {
    world = await startWorld();
    dir = mkdtempSync(join(tmpdir(), 'vaxguard-prometheus-'));
    const rules = join(dir, 'rules.yml');
    writeFileSync(rules, rulesWithFor(readFileSync(ALERT_RULES_FILE, 'utf8'), '1s'));
    prometheus = await startPrometheus({
      dir,
      config: prometheusConfig({
        jobs: Object.fromEntries(
          PLATFORM_SERVICES.map((service) => [service, [new URL(metricsUrl(service)).host]]),
        ),
        ruleFiles: [rules],
        intervalSeconds: 1,
      }),
    });
    // A few real calls: a citizen signs in and registers (OTP sent and confirmed,
    // identity's outbox, audit's ingestion), a mobile meets its send quota, and the
    // records and audit services answer a call each.
    const mobile = world.freshMobile();
    await world.register(await world.citizen(mobile), mobile);
    const flooded = world.freshMobile();
    for (let send = 0; send <= MOBILE_QUOTA_15M; send++) {
      await outcomeOf(
        world.clients.otp.call(
          'generateOtp',
          {
            mobile: flooded,
            purpose: otpV1.OtpPurpose.OTP_PURPOSE_CITIZEN_LOGIN,
            onBehalfOfClientId: '',
          },
          callAs(),
        ),
      );
    }
    await outcomeOf(world.clients.records.call('getIssuerKeys', {}, callAs()));
    await outcomeOf(world.clients.audit.call('getCheckpoint', {}, callAs()));
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    await world?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("each service's scrape parses strictly and holds its RPC (served and made), outbox and process series", async () => {
    for (const service of PLATFORM_SERVICES) {
      const scrape = await eventually(async () => {
        const scraped = await scrapeMetrics(metricsUrl(service));
        // The sampled gauges: the outbox's, read on the runtime's beat.
        if (samplesOf(scraped, 'vaxguard_outbox_unsent_events').length !== 1) {
          throw new Error(`${service}: no outbox gauge yet`);
        }
        return scraped;
      });
      expect(
        sum(scrape, 'grpc_server_handled_total', { grpc_service: GRPC_SERVICE[service] }),
      ).toBeGreaterThan(0);
      expect(samplesOf(scrape, 'grpc_server_handling_seconds_bucket').length).toBeGreaterThan(0);
      expect(samplesOf(scrape, 'vaxguard_outbox_oldest_unsent_age_seconds')).toHaveLength(1);
      expect(samplesOf(scrape, 'process_resident_memory_bytes', { service })).toHaveLength(1);
      expect(scrape.types.get('grpc_server_handled_total')).toBe('counter');
      expect(scrape.types.get('grpc_server_handling_seconds')).toBe('histogram');
    }
    // Its calls to its peers too: identity fetched OTP's signing keys to check the
    // citizen's token.
    const identity = await scrapeMetrics(metricsUrl('identity'));
    expect(
      sum(identity, 'grpc_client_handled_total', {
        grpc_service: GRPC_SERVICE.otp,
        grpc_method: 'GetSigningKeys',
        grpc_code: 'OK',
      }),
    ).toBeGreaterThan(0);
    expect(identity.types.get('grpc_client_handling_seconds')).toBe('histogram');
  });

  it('counts OTPs sent and confirmed, and a quota refusal by its reason and code', async () => {
    const otp = await scrapeMetrics(metricsUrl('otp'));
    expect(sum(otp, 'vaxguard_otp_sent_total', { purpose: 'CITIZEN_LOGIN' })).toBeGreaterThan(
      MOBILE_QUOTA_15M,
    );
    expect(sum(otp, 'vaxguard_otp_confirmed_total', { purpose: 'CITIZEN_LOGIN' })).toBeGreaterThan(
      0,
    );
    expect(sum(otp, 'vaxguard_quota_refusals_total', { reason: 'MOBILE_QUOTA_15M' })).toBe(1);
    expect(
      sum(otp, 'grpc_server_handled_total', {
        grpc_method: 'GenerateOtp',
        grpc_code: status[status.RESOURCE_EXHAUSTED],
      }),
    ).toBe(1);
    expect(
      sum(otp, 'grpc_server_handled_total', { grpc_method: 'ConfirmOtp', grpc_code: 'OK' }),
    ).toBeGreaterThan(0);
  });

  it("holds identity's suspensions, audit's log and its consumers' lag", async () => {
    await eventually(async () => {
      const identity = await scrapeMetrics(metricsUrl('identity'));
      expect(
        samplesOf(identity, 'vaxguard_identity_suspensions_in_force').map(
          (sample) => sample.labels['principal_kind'],
        ),
      ).toEqual(['STAFF', 'PARTNER_CLIENT']);
      expect(samplesOf(identity, 'vaxguard_identity_api_locks_in_force')).toHaveLength(1);
      const audit = await scrapeMetrics(metricsUrl('audit'));
      expect(sum(audit, 'vaxguard_audit_log_entries')).toBeGreaterThan(0);
      expect(sum(audit, 'vaxguard_audit_log_checkpoint_entries')).toBeGreaterThan(0);
      expect(samplesOf(audit, 'vaxguard_audit_log_checkpoint_age_seconds')).toHaveLength(1);
      expect(
        samplesOf(audit, 'vaxguard_kafka_consumer_lag', { topic: 'vaxguard.otp.events' }).length,
      ).toBeGreaterThan(0);
    });
  });

  it("no label value anywhere holds a person's data", async () => {
    for (const service of PLATFORM_SERVICES) {
      const text = await (await fetch(metricsUrl(service))).text();
      expect(suspiciousLabelValues(await scrapeMetrics(metricsUrl(service)))).toEqual([]);
      for (const raw of [...world.raw.mobiles, ...world.raw.tokens, ...world.raw.codes]) {
        expect(text.includes(raw), `${service}'s metrics hold a raw value`).toBe(false);
      }
    }
  });

  it('Prometheus scrapes every service, and the service-down alert fires for a stopped one', async () => {
    await eventually(async () => {
      const up = await prometheus.query('up');
      expect(up.map((series) => [series.labels['job'], series.value]).sort()).toEqual(
        [...PLATFORM_SERVICES].sort().map((service) => [service, 1]),
      );
    });
    expect(await prometheus.alerts()).toEqual([]);
    // Killed, as a crash would: no drain to wait out.
    await world.platform.processes['vaccination-record']?.stop('SIGKILL');
    const alert = await eventually(
      async () => {
        const firing = (await prometheus.alerts()).find(
          (candidate) =>
            candidate.labels['alertname'] === 'VaxGuardServiceDown' && candidate.state === 'firing',
        );
        if (!firing) throw new Error('the service-down alert is not firing yet');
        return firing;
      },
      { timeoutMs: 30_000 },
    );
    expect(alert.labels).toMatchObject({ job: 'vaccination-record', severity: 'page' });
  });
});
