import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { resourceExhausted, unavailable } from '@vaxguard/errors';
import { createMetricsRegistry } from '@vaxguard/metrics';
import { methodLabels, ServerMetrics } from './server-metrics';

const METHOD = '/vaxguard.otp.v1.OtpService/GenerateOtp';

async function series(registry: ReturnType<typeof createMetricsRegistry>, name: string) {
  const metric = registry.getSingleMetric(name);
  return metric ? (await metric.get()).values : [];
}

describe('the gRPC server metrics', () => {
  it("split a method's path into its service and method", () => {
    expect(methodLabels(METHOD)).toEqual({
      grpc_service: 'vaxguard.otp.v1.OtpService',
      grpc_method: 'GenerateOtp',
    });
  });

  it('count each call once by its status, time it, and hold it in flight until answered', async () => {
    const registry = createMetricsRegistry('otp');
    const metrics = new ServerMetrics(registry);
    const first = metrics.started(METHOD, 'unary');
    const second = metrics.started(METHOD, 'unary');
    expect((await series(registry, 'grpc_server_in_flight_calls'))[0]?.value).toBe(2);
    first(status.OK);
    first(status.INTERNAL); // a second report of the same call is ignored
    second(status.INVALID_ARGUMENT);
    expect((await series(registry, 'grpc_server_in_flight_calls'))[0]?.value).toBe(0);
    const handled = await series(registry, 'grpc_server_handled_total');
    expect(handled.map(({ labels, value }) => [labels['grpc_code'], value]).sort()).toEqual([
      ['INVALID_ARGUMENT', 1],
      ['OK', 1],
    ]);
    expect(await registry.getSingleMetricAsString('grpc_server_handling_seconds')).toMatch(
      /^grpc_server_handling_seconds_count\{[^}]*grpc_method="GenerateOtp"[^}]*\} 2$/m,
    );
  });

  it("count a quota's refusal by its reason, but not an overload refusal or another code", async () => {
    const registry = createMetricsRegistry('otp');
    const metrics = new ServerMetrics(registry);
    const quota = resourceExhausted('the quota is full', 1_000, { reason: 'CLIENT_QUOTA' });
    const busy = resourceExhausted('busy', 200, { reason: 'SERVER_BUSY' });
    metrics.started(METHOD, 'unary')(status.RESOURCE_EXHAUSTED, quota);
    metrics.started(METHOD, 'unary')(status.RESOURCE_EXHAUSTED, busy);
    metrics.started(METHOD, 'unary')(status.UNAVAILABLE, unavailable('down'));
    metrics.refusedByAdmission(METHOD, 'unary');
    const refusals = await series(registry, 'vaxguard_quota_refusals_total');
    expect(refusals.map(({ labels, value }) => [labels['reason'], value])).toEqual([
      ['CLIENT_QUOTA', 1],
    ]);
    const admission = await series(registry, 'grpc_server_admission_refused_total');
    expect(admission.map(({ value }) => value)).toEqual([1]);
    const exhausted = (await series(registry, 'grpc_server_handled_total')).find(
      ({ labels }) => labels['grpc_code'] === 'RESOURCE_EXHAUSTED',
    );
    expect(exhausted?.value).toBe(3);
  });
});
