import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { createMetricsRegistry, metricsRequestListener } from './registry';

describe('a service process metrics registry', () => {
  it("labels every series with the service and holds the process's own metrics", async () => {
    const registry = createMetricsRegistry('otp');
    new Counter({ name: 'demo_calls_total', help: 'demo', registers: [registry] }).inc(2);
    const text = await registry.metrics();
    expect(text).toContain('demo_calls_total{service="otp"} 2');
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="otp"\} /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="otp"\} /m);
  });

  it('keeps two registries apart: two services in one process do not share series', async () => {
    const a = createMetricsRegistry('identity');
    const b = createMetricsRegistry('audit');
    new Counter({ name: 'only_in_a_total', help: 'a', registers: [a] }).inc();
    expect(await a.metrics()).toContain('only_in_a_total');
    expect(await b.metrics()).not.toContain('only_in_a_total');
  });
});

describe('GET /metrics', () => {
  const registry = createMetricsRegistry('audit');
  new Counter({ name: 'served_total', help: 'served', registers: [registry] }).inc();
  const server = createServer(metricsRequestListener(registry));
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves the text format at /metrics, and nothing else anywhere else', async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('served_total{service="audit"} 1');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 500 without detail when collecting fails, and says why to its error hook', async () => {
    const failing = createMetricsRegistry('otp');
    new Counter({
      name: 'broken_total',
      help: 'broken',
      registers: [failing],
      collect() {
        throw new Error('the database went away');
      },
    });
    const errors: unknown[] = [];
    const broken = createServer(metricsRequestListener(failing, (error) => errors.push(error)));
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(
        `http://127.0.0.1:${(broken.address() as AddressInfo).port}/metrics`,
      );
      expect(response.status).toBe(500);
      expect(await response.text()).not.toContain('database');
      expect(String(errors[0])).toContain('the database went away');
    } finally {
      await new Promise<void>((resolve) => broken.close(() => resolve()));
    }
  });
});
