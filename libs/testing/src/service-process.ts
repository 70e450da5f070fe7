import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { unaryCall } from '@vaxguard/grpc-kit';
import { freePort } from './containers';
import { eventually } from './eventually';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
type HealthCheck = (
  request: { service: string },
  options: { deadline: Date },
  callback: (error: ServiceError | null, response: { status: number | string }) => void,
) => void;

const SERVING_STATUS: Record<number, string> = {
  0: 'UNKNOWN',
  1: 'SERVING',
  2: 'NOT_SERVING',
  3: 'SERVICE_UNKNOWN',
};

/** Asks a server's grpc.health.v1 for a service's status (`''`: the whole server). */
export async function checkHealth(address: string, service = ''): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as Client & {
    check: HealthCheck;
  };
  try {
    const { status } = await unaryCall<{ status: number | string }>((done) =>
      client.check({ service }, { deadline: new Date(Date.now() + 2_000) }, done),
    );
    return typeof status === 'number' ? (SERVING_STATUS[status] ?? String(status)) : status;
  } finally {
    client.close();
  }
}

export interface ServiceProcess extends AsyncDisposable {
  readonly address: string;
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
  let output = '';
  const child = spawn(process.execPath, ['--enable-source-maps', options.entry], {
    cwd: WORKSPACE,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...options.env,
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(port),
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
    child,
    output: () => output,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}
