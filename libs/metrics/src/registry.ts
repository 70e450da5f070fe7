import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * Latency buckets, in seconds, for anything a caller waits on (a gRPC call, a statement):
 * 1 ms to 10 s, about three to a decade, so a p99 read from them is within a bucket's
 * width of the truth from a cached read to a call that hit its deadline.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * How often the gauges read by a query (outbox backlog, consumer lag, the audit log's
 * size, suspensions in force) are sampled: off the hot path, and fresh enough for
 * alerts that look at minutes.
 */
export const METRICS_SAMPLE_INTERVAL_MS = 5_000;

/**
 * A process's one metrics registry: every series it holds carries the `service` label,
 * and the process's own metrics (CPU, memory, event-loop lag, GC, handles) come with
 * it. A service's runtime makes it and hands it to whatever records (the gRPC server,
 * the outbox, the consumers, the service's own adapters). Label values are names and
 * codes only, never a person's data.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The HTTP handler of `GET /metrics` (the Prometheus text format); anything else is
 * 404, any other method on /metrics 405. A registry that fails to collect answers 500
 * with no detail (the cause goes to `onError`).
 */
export function metricsRequestListener(
  registry: Registry,
  onError: (error: unknown) => void = () => undefined,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      response.end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        onError(error);
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  };
}
