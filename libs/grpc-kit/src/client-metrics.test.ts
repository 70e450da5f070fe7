import { describe, expect, it } from 'vitest';
import { invalidArgument } from '@vaxguard/errors';
import { Registry } from '@vaxguard/metrics';
import { ClientMetrics, withClientMetrics } from './client-metrics';

const definition = {
  listThings: { path: '/vaxguard.test.v1.Things/ListThings' },
  getThing: { path: '/vaxguard.test.v1.Things/GetThing' },
};

/** A client whose stream yields two messages, or fails after one for 'fail'. */
const fakeClient = {
  call: async (_method: string, request: string) => {
    if (request === 'bad') throw invalidArgument('a thing is not valid', { reason: 'BAD_THING' });
    return 'thing';
  },
  stream: (_method: string, request: string) =>
    (async function* () {
      yield 1;
      if (request === 'fail') throw invalidArgument('the rest is not valid');
      yield 2;
    })(),
};

const series = (method: string, type: string) =>
  `grpc_service="vaxguard.test.v1.Things",grpc_method="${method}",grpc_type="${type}"`;

describe('client metrics', () => {
  it('count a stream when it ends: read to its end, failed, or left by its reader', async () => {
    const registry = new Registry();
    const client = withClientMetrics(definition, fakeClient, ClientMetrics.of(registry));
    const read: number[] = [];
    for await (const message of client.stream('listThings', 'all') as AsyncIterable<number>) {
      read.push(message);
    }
    expect(read).toEqual([1, 2]);
    await expect(async () => {
      for await (const message of client.stream('listThings', 'fail') as AsyncIterable<number>) {
        read.push(message);
      }
    }).rejects.toThrow('the rest is not valid');
    for await (const message of client.stream('listThings', 'all') as AsyncIterable<number>) {
      read.push(message);
      break;
    }
    expect(read).toEqual([1, 2, 1, 1]);
    // Opened and never read: not started, not counted.
    client.stream('listThings', 'all');
    const labels = series('ListThings', 'server_stream');
    const text = await registry.metrics();
    expect(text).toContain(`grpc_client_started_total{${labels}} 3`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="OK"} 1`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="INVALID_ARGUMENT"} 1`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="CANCELLED"} 1`);
    expect(text).toContain(`grpc_client_handling_seconds_count{${labels}} 3`);
  });

  it('count a unary call by its final status, and share one set of series per registry', async () => {
    const registry = new Registry();
    const first = withClientMetrics(definition, fakeClient, ClientMetrics.of(registry));
    const second = withClientMetrics(definition, fakeClient, ClientMetrics.of(registry));
    await first.call('getThing', 'one');
    await expect(second.call('getThing', 'bad')).rejects.toThrow('a thing is not valid');
    const labels = series('GetThing', 'unary');
    const text = await registry.metrics();
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="OK"} 1`);
    expect(text).toContain(`grpc_client_handled_total{${labels},grpc_code="INVALID_ARGUMENT"} 1`);
  });
});
