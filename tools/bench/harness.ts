// Pieces every RPC benchmark shares: the load limits from the environment and the bare
// grpc-js echo (the baseline) served from its own process, as a service would be.
import { spawn } from 'node:child_process';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { unaryCall } from '@vaxguard/grpc-kit';
import { freePort } from '@vaxguard/testing';
import { echoService } from './echo-server';

/** Closed-loop load settings, the same for every benchmark and every phase. */
export interface BenchLimits {
  readonly concurrency: number;
  readonly maxSeconds: number;
  readonly maxCalls: number;
}

export function benchLimits(env: NodeJS.ProcessEnv = process.env): BenchLimits {
  return {
    concurrency: Number(env['BENCH_CONCURRENCY'] ?? 32),
    maxSeconds: Number(env['BENCH_SECONDS'] ?? 10),
    maxCalls: Number(env['BENCH_MAX_CALLS'] ?? 20_000),
  };
}

export interface EchoServer extends AsyncDisposable {
  readonly address: string;
  /** One echo of a 64-byte payload. */
  call(): Promise<Buffer>;
  stop(): void;
}

/** Starts the bare echo server (`echo-server.ts`) as its own process, with a client to it. */
export async function startEcho(): Promise<EchoServer> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'tools/bench/echo-server.ts', String(port)],
    {
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tools/tsconfig.json' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
  const address = `127.0.0.1:${port}`;
  const Echo = makeGenericClientConstructor(echoService, 'Echo');
  const client = new Echo(address, credentials.createInsecure()) as unknown as {
    echo: (request: Buffer, done: (error: ServiceError | null, response: Buffer) => void) => void;
    close: () => void;
  };
  const payload = Buffer.alloc(64, 1);
  const stop = () => {
    client.close();
    child.kill('SIGTERM');
  };
  return {
    address,
    call: () => unaryCall((done) => client.echo(payload, done)),
    stop,
    [Symbol.asyncDispose]: async () => stop(),
  };
}

/** Runs a benchmark's main; a failure ends the process with a one-line reason. */
export function runBenchmark(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(
      `benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
