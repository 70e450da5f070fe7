import { status } from '@grpc/grpc-js';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '@vaxguard/metrics';
import { methodLabels, type CallDone } from './server-metrics';
import { statusCodeOf } from './status';

type ClientLabel = 'grpc_service' | 'grpc_method' | 'grpc_type';

/**
 * A client's RPC metrics (calls this process makes to its peers), in the names
 * grpc-ecosystem's client interceptors use: calls started, calls completed by status
 * code, and their latency from the caller's side, retries and waits included, so an
 * operator sees what a slow or refusing peer costs the services that call it. Labels
 * are the method's name and a status code's name, never a request's content.
 */
export class ClientMetrics {
  private readonly startedCalls: Counter<ClientLabel>;
  private readonly handled: Counter<ClientLabel | 'grpc_code'>;
  private readonly latency: Histogram<ClientLabel>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.startedCalls = new Counter({
      name: 'grpc_client_started_total',
      help: 'gRPC calls this process started to another service, by method.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      registers,
    });
    this.handled = new Counter({
      name: 'grpc_client_handled_total',
      help: 'gRPC calls to another service completed, by method and status code (retries included in one call).',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type', 'grpc_code'],
      registers,
    });
    this.latency = new Histogram({
      name: 'grpc_client_handling_seconds',
      help: 'Time from a call to another service starting to its status, every attempt and retry wait included, in seconds.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_type'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
  }

  private static readonly byRegistry = new WeakMap<Registry, ClientMetrics>();

  /** The one set of client metrics of `registry`, shared by every client of the process. */
  static of(registry: Registry): ClientMetrics {
    let metrics = ClientMetrics.byRegistry.get(registry);
    if (!metrics) {
      metrics = new ClientMetrics(registry);
      ClientMetrics.byRegistry.set(registry, metrics);
    }
    return metrics;
  }

  /** A call started now; the function returned is called once, when it has ended. */
  started(path: string, type: 'unary' | 'server_stream'): CallDone {
    const labels = { ...methodLabels(path), grpc_type: type };
    const began = performance.now();
    this.startedCalls.inc(labels);
    let done = false;
    return (code) => {
      if (done) return;
      done = true;
      this.latency.observe(labels, (performance.now() - began) / 1000);
      this.handled.inc({ ...labels, grpc_code: status[code] ?? 'UNKNOWN' });
    };
  }
}

/**
 * `client` with its unary calls and streams counted in `metrics`: a unary call when it
 * settles, a stream when its last message has been read, it failed, or its reader left.
 */
export function withClientMetrics<C extends { readonly call: unknown; readonly stream: unknown }>(
  definition: Readonly<Record<string, { readonly path: string }>>,
  client: C,
  metrics: ClientMetrics,
): C {
  const pathOf = (method: string) =>
    (Object.hasOwn(definition, method) ? definition[method]?.path : undefined) ?? method;
  const call = client.call as (method: string, ...rest: unknown[]) => Promise<unknown>;
  const stream = client.stream as (method: string, ...rest: unknown[]) => AsyncIterable<unknown>;
  return {
    ...client,
    async call(method: string, ...rest: unknown[]) {
      const done = metrics.started(pathOf(method), 'unary');
      try {
        const response = await call(method, ...rest);
        done(status.OK);
        return response;
      } catch (error) {
        done(statusCodeOf(error), error);
        throw error;
      }
    },
    stream(method: string, ...rest: unknown[]) {
      const messages = stream(method, ...rest);
      return {
        async *[Symbol.asyncIterator]() {
          const done = metrics.started(pathOf(method), 'server_stream');
          let code = status.CANCELLED;
          try {
            yield* messages;
            code = status.OK;
          } catch (error) {
            code = statusCodeOf(error);
            throw error;
          } finally {
            done(code);
          }
        },
      };
    },
  };
}
