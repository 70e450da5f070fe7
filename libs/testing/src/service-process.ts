import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkHealth } from '@vaxguard/grpc-kit';
import { freePort } from './containers';
import { eventually } from './eventually';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));

// The health check lives with the client kit (the command line asks it too); tests,
// npm start and the benches keep importing it from here.
export { checkHealth };

export interface ServiceProcess extends AsyncDisposable {
  readonly address: string;
  /** Where it serves Prometheus metrics, `http://127.0.0.1:<port>/metrics`, if it does. */
  readonly metricsUrl: string | undefined;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts a built service (`services/<name>/dist/main.js`) as its own process, as
 * production would, and waits until its health check reports SERVING.
 */
export async function spawnService(options: {
  readonly entry: string;
  readonly env: Record<string, string>;
  readonly readyTimeoutMs?: number;
  /** The port to serve on (a restarted service keeps its address); a free one by default. */
  readonly port?: number;
}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  // METRICS_PORT=0 (any port) is resolved here, so the test knows where to scrape.
  const metricsPort =
    options.env['METRICS_PORT'] === '0' ? String(await freePort()) : options.env['METRICS_PORT'];
  let output = '';
  const child = spawn(process.execPath, ['--enable-source-maps', options.entry], {
    cwd: WORKSPACE,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...options.env,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(port),
      ...(metricsPort === undefined ? {} : { METRICS_PORT: metricsPort }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`service exited with ${child.exitCode}:\n${output}`);
        const status = await checkHealth(address);
        if (status !== 'SERVING') throw new Error(`health is ${status}`);
      },
      { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return {
    address,
    metricsUrl: metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`,
    child,
    output: () => output,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}
