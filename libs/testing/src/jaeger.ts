// A real Jaeger (v2, built from its Go module by tools/dev/ensure-prereqs.sh jaeger into
// ~/.cache/vaxguard/bin) keeping traces in memory: the services export their spans to it
// over OTLP/gRPC; `npm start` runs one and the tracing test reads traces back from its
// query API.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './containers';
import { startHttpServerProcess } from './http-server-process';

/** Where ensure-prereqs.sh puts the binary (`VAXGUARD_CACHE_DIR`/bin, as for the witness). */
export function jaegerBinary(cacheDir = join(homedir(), '.cache', 'vaxguard')): string {
  return join(cacheDir, 'bin', 'jaeger');
}

/** The ports a Jaeger listens on, all on 127.0.0.1. */
export interface JaegerPorts {
  /** OTLP over gRPC: where the services export (OTEL_EXPORTER_OTLP_ENDPOINT). */
  readonly otlpGrpc: number;
  /** OTLP over HTTP. */
  readonly otlpHttp: number;
  /** The UI and its HTTP query API (`/api/traces/<id>`). */
  readonly query: number;
  /** The query API over gRPC. */
  readonly queryGrpc: number;
}

/** Traces kept in memory at most; older ones are dropped. */
const MAX_TRACES = 100_000;

/**
 * Jaeger v2's configuration (an OpenTelemetry Collector configuration, in JSON, which
 * YAML reads): OTLP in, kept in memory, served by the query extension; its own telemetry
 * off, so it opens no port but these.
 */
export function jaegerConfig(ports: JaegerPorts): string {
  const at = (port: number) => `127.0.0.1:${port}`;
  return `${JSON.stringify(
    {
      service: {
        extensions: ['jaeger_storage', 'jaeger_query'],
        pipelines: {
          traces: {
            receivers: ['otlp'],
            processors: ['batch'],
            exporters: ['jaeger_storage_exporter'],
          },
        },
        telemetry: {
          metrics: { level: 'none' },
          traces: { level: 'none' },
          logs: { level: 'warn' },
        },
      },
      extensions: {
        jaeger_query: {
          storage: { traces: 'memstore' },
          http: { endpoint: at(ports.query) },
          grpc: { endpoint: at(ports.queryGrpc) },
        },
        jaeger_storage: { backends: { memstore: { memory: { max_traces: MAX_TRACES } } } },
      },
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: at(ports.otlpGrpc) },
            http: { endpoint: at(ports.otlpHttp) },
          },
        },
      },
      processors: { batch: {} },
      exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
    },
    null,
    2,
  )}\n`;
}

/** One span as Jaeger's query API gives it, with its service's name. */
export interface JaegerSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly operationName: string;
  readonly service: string;
  /** The span it is the child of, if any. */
  readonly parentSpanId: string | undefined;
  readonly tags: Readonly<Record<string, unknown>>;
}

interface ApiTrace {
  traceID: string;
  spans: {
    traceID: string;
    spanID: string;
    operationName: string;
    processID: string;
    references?: { refType: string; traceID: string; spanID: string }[];
    tags?: { key: string; value: unknown }[];
  }[];
  processes: Record<string, { serviceName: string }>;
}

export interface RunningJaeger extends AsyncDisposable {
  /** The OTLP/gRPC endpoint to export to: `http://127.0.0.1:<port>`. */
  readonly otlpEndpoint: string;
  /** The UI (and query API): `http://127.0.0.1:<port>`. */
  readonly uiUrl: string;
  readonly ports: JaegerPorts;
  readonly child: ChildProcess;
  /** A trace's spans as stored now (`/api/traces/<id>`); empty while it is unknown. */
  trace(traceId: string): Promise<JaegerSpan[]>;
  /** Everything Jaeger wrote so far (empty when it logs to a file). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts Jaeger with its configuration written to `dir`/jaeger.json, on the given ports
 * (free ones by default); resolves once its query API answers. Its output goes to
 * `logFile` when given, else is kept for `output()`.
 */
export async function startJaeger(options: {
  readonly dir: string;
  readonly ports?: Partial<JaegerPorts>;
  readonly logFile?: string;
  /** Where the binary is (default: jaegerBinary()). */
  readonly binary?: string;
  /** Passed to spawn: `npm start` runs it in its own process group. */
  readonly detached?: boolean;
}): Promise<RunningJaeger> {
  mkdirSync(options.dir, { recursive: true });
  const ports: JaegerPorts = {
    otlpGrpc: options.ports?.otlpGrpc ?? (await freePort()),
    otlpHttp: options.ports?.otlpHttp ?? (await freePort()),
    query: options.ports?.query ?? (await freePort()),
    queryGrpc: options.ports?.queryGrpc ?? (await freePort()),
  };
  const configFile = join(options.dir, 'jaeger.json');
  writeFileSync(configFile, jaegerConfig(ports));
  const uiUrl = `http://127.0.0.1:${ports.query}`;
  const server = await startHttpServerProcess({
    name: 'jaeger',
    command: options.binary ?? jaegerBinary(),
    args: ['--config', configFile],
    readyUrl: `${uiUrl}/api/services`,
    logFile: options.logFile,
    detached: options.detached,
    // Jaeger's own tracer (its query service's spans) would export to localhost:4317,
    // where nothing listens, and warn of it every few seconds: sampled off, as Jaeger's
    // documentation says to disable it.
    env: { OTEL_TRACES_SAMPLER: 'always_off' },
  });
  return {
    otlpEndpoint: `http://127.0.0.1:${ports.otlpGrpc}`,
    uiUrl,
    ports,
    child: server.child,
    output: server.output,
    async trace(traceId) {
      const response = await fetch(`${uiUrl}/api/traces/${traceId}`);
      if (response.status === 404) return [];
      if (response.status !== 200) throw new Error(`/api/traces: HTTP ${response.status}`);
      const body = (await response.json()) as { data: ApiTrace[] | null };
      return (body.data ?? []).flatMap((found) =>
        found.spans.map((span) => ({
          traceId: span.traceID,
          spanId: span.spanID,
          operationName: span.operationName,
          service: found.processes[span.processID]?.serviceName ?? '',
          parentSpanId: span.references?.find((reference) => reference.refType === 'CHILD_OF')
            ?.spanID,
          tags: Object.fromEntries((span.tags ?? []).map((tag) => [tag.key, tag.value])),
        })),
      );
    },
    stop: server.stop,
    [Symbol.asyncDispose]: server.stop,
  };
}
