import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { eventually } from './eventually';

/** An outside server (Prometheus, Jaeger) this process started and watches. */
export interface HttpServerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote so far (empty when it logs to a file). */
  readonly output: () => string;
  /** SIGTERM, then SIGKILL after 10 s; resolves once it has exited. */
  readonly stop: () => Promise<void>;
}

/**
 * Spawns `command` with `args`, its output to `logFile` when given (else kept for
 * `output()`), and resolves once `readyUrl` answers 200 (within 30 s); a server that
 * exits or never gets ready is stopped and its output is in the error.
 */
export async function startHttpServerProcess(options: {
  /** How errors name it. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly readyUrl: string;
  readonly logFile?: string;
  /** Passed to spawn: `npm start` runs it in its own process group. */
  readonly detached?: boolean;
  /** Set in its environment, over this process's. */
  readonly env?: Readonly<Record<string, string>>;
}): Promise<HttpServerProcess> {
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
    env: { ...process.env, ...options.env },
  });
  let output = '';
  if (options.logFile) {
    const file = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    child.once('exit', () => file.end());
  } else {
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    }
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => (output += `\n${error.message}`));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
  };
  try {
    await eventually(
      async () => {
        if (!running()) throw new Error(`${options.name} exited:\n${output}`);
        const response = await fetch(options.readyUrl);
        if (response.status !== 200) throw new Error(`not ready: HTTP ${response.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { child, output: () => output, stop };
}
