import { context, trace } from '@opentelemetry/api';

/** Where spans go and whose they are: the service configuration's part for tracing. */
export interface TracingOptions {
  /** The service's name (OpenTelemetry's `service.name`): `otp`, `identity`... */
  readonly service: string;
  /**
   * The OTLP/gRPC endpoint spans are exported to (`http://host:4317`); tracing is off
   * when it is not set.
   */
  readonly endpoint: string | undefined;
  /** Longest wait between two exports (default BATCH_EXPORT_DELAY_MS). */
  readonly exportDelayMs?: number;
}

/** Tracing as a service runs it: on (spans exported) or off; flushed and stopped at shutdown. */
export interface Tracing {
  readonly enabled: boolean;
  /** Exports the spans finished so far, now. */
  flush(): Promise<void>;
  /** Exports the spans still queued, then stops (the service runtime's stop). */
  shutdown(): Promise<void>;
}

/** Tracing off: no SDK loaded, the API's no-op tracer everywhere. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  flush: async () => undefined,
  shutdown: async () => undefined,
};

/**
 * How long finished spans wait to be exported together (the batch span processor's
 * scheduled delay). One second instead of the SDK's five: a trace looked up right after
 * a call is whole sooner, for the price of a few more small exports.
 */
export const BATCH_EXPORT_DELAY_MS = 1_000;
/** Spans queued at most; beyond, new spans are dropped rather than memory grown. */
export const MAX_QUEUED_SPANS = 8_192;

/**
 * The OTLP endpoint as OTEL_EXPORTER_OTLP_ENDPOINT gives it, checked: an http(s) URL of a
 * host and port (the collector's OTLP/gRPC listener), with no path, credentials or query.
 */
export function parseOtlpEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL such as http://127.0.0.1:4317');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error('must be an http:// or https:// URL');
  if (url.username || url.password || url.search || url.hash || (url.pathname ?? '/') !== '/')
    throw new Error('must be scheme://host:port, without a path, credentials or query');
  return `${url.protocol}//${url.host}`;
}

/**
 * Starts tracing for one service process: with an endpoint, the OpenTelemetry SDK (loaded
 * only then) with a batch span processor exporting over OTLP/gRPC, registered as the API's
 * tracer provider, and async-hooks context propagation; without one, TRACING_OFF and
 * nothing loaded. One process runs one tracing at a time.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.endpoint) return TRACING_OFF;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources, hooks, semconv] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-grpc'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/semantic-conventions'),
    ]);
  const exporter = new OTLPTraceExporter({ url: options.endpoint });
  const provider = new TracerProvider({
    resource: resources.resourceFromAttributes({
      [semconv.ATTR_SERVICE_NAME]: options.service,
      [semconv.ATTR_SERVICE_NAMESPACE]: 'vaxguard',
      // Which process of the service: instances of one service share their name.
      [semconv.ATTR_SERVICE_INSTANCE_ID]: `${options.service}-${process.pid}`,
    }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter,
        scheduledDelayMillis: options.exportDelayMs ?? BATCH_EXPORT_DELAY_MS,
        maxQueueSize: MAX_QUEUED_SPANS,
      }),
    ],
  });
  const contextManager = new hooks.AsyncLocalStorageContextManager().enable();
  if (
    !context.setGlobalContextManager(contextManager) ||
    !trace.setGlobalTracerProvider(provider)
  ) {
    contextManager.disable();
    await provider.shutdown();
    throw new Error('tracing: this process already runs a tracer provider');
  }
  let stopping: Promise<void> | undefined;
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    shutdown() {
      stopping ??= provider.shutdown().finally(() => {
        trace.disable();
        context.disable();
      });
      return stopping;
    },
  };
}
