// A real Prometheus server (Debian's `prometheus` package, installed by
// tools/dev/ensure-prereqs.sh prometheus) scraping the platform's services with the
// repository's alerting rules: started by `npm start` and by the metrics tests.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './containers';
import { startHttpServerProcess } from './http-server-process';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));

/** Debian's binaries: the server and its rule checker. */
export const PROMETHEUS_BIN = process.env['VAXGUARD_PROMETHEUS_BIN'] ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env['VAXGUARD_PROMTOOL_BIN'] ?? '/usr/bin/promtool';
/** The repository's alerting rules and their unit tests. */
export const ALERT_RULES_FILE = join(WORKSPACE, 'deploy/prometheus/rules.yml');
export const ALERT_RULES_TEST_FILE = join(WORKSPACE, 'deploy/prometheus/rules.test.yml');

/** What to scrape: each job (a service's name) and its instances' `host:port`. */
export type ScrapeJobs = Readonly<Record<string, readonly string[]>>;

export interface PrometheusConfigOptions {
  readonly jobs: ScrapeJobs;
  readonly ruleFiles: readonly string[];
  /** How often every target is scraped and the rules evaluated (default 15 s). */
  readonly intervalSeconds?: number;
}

/**
 * A prometheus.yml (in JSON, which YAML reads) scraping each job's instances at
 * `/metrics` and evaluating the rule files; the job is the service's name, which the
 * rules' `up{job=~…}` expects.
 */
export function prometheusConfig(options: PrometheusConfigOptions): string {
  const interval = `${options.intervalSeconds ?? 15}s`;
  return `${JSON.stringify(
    {
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: options.ruleFiles,
      scrape_configs: Object.entries(options.jobs).map(([job, targets]) => ({
        job_name: job,
        metrics_path: '/metrics',
        static_configs: [{ targets }],
      })),
    },
    null,
    2,
  )}\n`;
}

/**
 * The rules with every `for:` replaced by `duration`: what a test that brings a rule to
 * firing within seconds loads instead of waiting out the minutes the rules ask for.
 */
export function rulesWithFor(rules: string, duration: string): string {
  return rules.replace(/^(\s+for:\s*)\S+\s*$/gm, `$1${duration}`);
}

export interface PrometheusAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing' | 'inactive';
}

export interface RunningPrometheus extends AsyncDisposable {
  /** The UI and HTTP API, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** The alerts pending or firing now (`/api/v1/alerts`). */
  alerts(): Promise<PrometheusAlert[]>;
  /** An instant query's vector (`/api/v1/query`): each series' labels and value. */
  query(expr: string): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** Everything the server wrote so far (empty when it logs to a file). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus with `config` written to `dir`/prometheus.yml and its data in
 * `dir`/data, listening on 127.0.0.1 at `port` (a free one by default); resolves once
 * it answers /-/ready. Its output goes to `logFile` when given, else is kept for
 * `output()`.
 */
export async function startPrometheus(options: {
  readonly dir: string;
  readonly config: string;
  readonly port?: number;
  readonly logFile?: string;
  /** How long its data is kept (default 1d; `npm start` keeps it across restarts). */
  readonly retention?: string;
  /** Passed to spawn: `npm start` runs it in its own process group. */
  readonly detached?: boolean;
}): Promise<RunningPrometheus> {
  mkdirSync(join(options.dir, 'data'), { recursive: true });
  const configFile = join(options.dir, 'prometheus.yml');
  writeFileSync(configFile, options.config);
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const server = await startHttpServerProcess({
    name: 'prometheus',
    command: PROMETHEUS_BIN,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--storage.tsdb.retention.time=${options.retention ?? '1d'}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    readyUrl: `${url}/-/ready`,
    logFile: options.logFile,
    detached: options.detached,
  });
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`);
    return body.data;
  };
  return {
    url,
    port,
    child: server.child,
    output: server.output,
    async alerts() {
      const data = await api<{ alerts: PrometheusAlert[] }>('/api/v1/alerts');
      return data.alerts;
    },
    async query(expr) {
      const data = await api<{
        result: { metric: Record<string, string>; value: [number, string] }[];
      }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      return data.result.map(({ metric, value }) => ({ labels: metric, value: Number(value[1]) }));
    },
    stop: server.stop,
    [Symbol.asyncDispose]: server.stop,
  };
}
