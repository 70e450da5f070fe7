// A real c2sp.org/tlog-witness on this machine: litewitness (filippo.io/torchwood,
// built by `bash tools/dev/ensure-prereqs.sh witness`) with its own Ed25519 key in its
// own ssh-agent, its state in a SQLite database, listening on loopback. npm start keeps
// the directory between starts; tests give a temporary one.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseSshEd25519PublicKey, witnessVerifierKey } from './ssh-key';

const run = promisify(execFile);

export const DEFAULT_WITNESS_NAME = 'witness.vaxguard.test';
const KEY_FILE = 'witness-key';
const DB_FILE = 'witness.db';
/** A unix socket path holds at most 108 bytes; longer `dir`s get a socket in tmpdir. */
const MAX_SOCKET_PATH = 100;
const KEPT_OUTPUT_CHARS = 64 * 1024;
/** Where OpenSSH's tools are (Debian's openssh-client). */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

/** A log the witness cosigns: its origin line and its note verifier key (`vkey`). */
export interface WitnessedLog {
  readonly origin: string;
  readonly verifierKey: string;
}

export interface StartWitnessOptions {
  /** The witness's key and database live here (created if need be) and outlive it. */
  readonly dir: string;
  /** The witness's name in its cosignatures, URL-like (default witness.vaxguard.test). */
  readonly name?: string;
  /** Logs to register (those already registered with the same key are left as they are). */
  readonly logs: readonly WitnessedLog[];
  /** Where litewitness and witnessctl are (default ~/.cache/vaxguard/bin). */
  readonly binDir?: string;
  /** The loopback port (default a free one). */
  readonly port?: number;
  /** litewitness's output is appended here besides being kept in memory. */
  readonly logFile?: string;
  /** Default 20 s. */
  readonly readyTimeoutMs?: number;
}

export interface RunningWitness extends AsyncDisposable {
  /** Its submission prefix: POST `${url}/add-checkpoint`. */
  readonly url: string;
  readonly name: string;
  /** Its cosignature/v1 verifier key, what a verifier of cosigned checkpoints trusts. */
  readonly verifierKey: string;
  readonly port: number;
  readonly dbFile: string;
  /** litewitness's and its ssh-agent's process ids. */
  readonly pid: number;
  readonly agentPid: number;
  /** The last 64 KiB litewitness wrote. */
  output(): string;
  /** Stops litewitness and its ssh-agent; safe to call twice. `dir` stays. */
  stop(): Promise<void>;
}

/** Where ensure-prereqs puts litewitness and witnessctl, under the given cache directory. */
export function witnessBinDir(cacheDir = join(homedir(), '.cache', 'vaxguard')): string {
  return join(cacheDir, 'bin');
}

/**
 * Starts a witness: makes its key in `dir` unless there is one, starts an ssh-agent
 * holding it, registers `logs` in its database with witnessctl, starts litewitness on
 * loopback and waits until it answers. Everything it started is stopped when a step fails.
 */
export async function startWitness(options: StartWitnessOptions): Promise<RunningWitness> {
  const name = options.name ?? DEFAULT_WITNESS_NAME;
  const binDir = options.binDir ?? witnessBinDir();
  const litewitness = join(binDir, 'litewitness');
  const witnessctl = join(binDir, 'witnessctl');
  for (const binary of [litewitness, witnessctl]) {
    if (!existsSync(binary)) {
      throw new Error(`${binary} not found: run 'bash tools/dev/ensure-prereqs.sh witness'`);
    }
  }
  const dir = resolve(options.dir);
  const dbFile = join(dir, DB_FILE);
  const keyFile = join(dir, KEY_FILE);
  const releases: (() => Promise<void> | void)[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const release of releases.splice(0).reverse()) await release();
    })());
  try {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(keyFile)) {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile]);
    }
    const { fingerprint } = parseSshEd25519PublicKey(readFileSync(`${keyFile}.pub`, 'utf8'));
    const verifierKey = witnessVerifierKey(name, readFileSync(`${keyFile}.pub`, 'utf8'));

    let socket = join(dir, 'agent.sock');
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
      const socketDir = mkdtempSync(join(tmpdir(), 'vaxguard-witness-'));
      releases.push(() => rmSync(socketDir, { recursive: true, force: true }));
      socket = join(socketDir, 'agent.sock');
    }
    rmSync(socket, { force: true });
    const agent = spawn('ssh-agent', ['-D', '-a', socket], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    releases.push(() => terminate(agent, 'SIGTERM'));
    releases.push(() => rmSync(socket, { force: true }));
    await waitFor(() => existsSync(socket), agent, 'ssh-agent', 10_000);
    // ssh-add finds its agent only through SSH_AUTH_SOCK.
    await run('ssh-add', ['-q', keyFile], { env: { PATH: SYSTEM_PATH, SSH_AUTH_SOCK: socket } });

    await registerLogs(witnessctl, dbFile, options.logs);

    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-KEPT_OUTPUT_CHARS);
      if (options.logFile) appendFileSync(options.logFile, chunk);
    };
    // A free port can be taken before litewitness binds it: then it exits, and another try.
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      const url = `http://127.0.0.1:${port}`;
      const child = spawn(
        litewitness,
        [
          `-name=${name}`,
          `-db=${dbFile}`,
          `-ssh-agent=${socket}`,
          `-key=${fingerprint}`,
          `-listen=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const release = () => terminate(child, 'SIGINT');
      releases.push(release);
      try {
        await waitFor(() => answers(url), child, 'litewitness', options.readyTimeoutMs ?? 20_000);
      } catch (error) {
        await release();
        releases.splice(releases.indexOf(release), 1);
        if (options.port === undefined && attempt < 3 && /address already in use/.test(output)) {
          continue;
        }
        throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
      }
      return {
        url,
        name,
        verifierKey,
        port,
        dbFile,
        pid: child.pid as number,
        agentPid: agent.pid as number,
        output: () => output,
        stop,
        [Symbol.asyncDispose]: stop,
      };
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Adds each log, and its key, that the database does not hold yet. */
async function registerLogs(
  witnessctl: string,
  dbFile: string,
  logs: readonly WitnessedLog[],
): Promise<void> {
  const { stdout } = await run(witnessctl, ['list-logs', '-db', dbFile]);
  const known = new Map<string, readonly string[]>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const { origin, keys } = JSON.parse(line) as { origin: string; keys: string[] | null };
    known.set(origin, keys ?? []);
  }
  for (const { origin, verifierKey } of logs) {
    const keys = known.get(origin);
    if (keys === undefined) {
      await run(witnessctl, ['add-log', '-db', dbFile, '-origin', origin]);
    }
    if (!keys?.includes(verifierKey)) {
      await run(witnessctl, ['add-key', '-db', dbFile, '-origin', origin, '-key', verifierKey]);
    }
  }
}

/** Anything but a refused connection: litewitness serves its status page on `/`. */
async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  ready: () => boolean | Promise<boolean>,
  child: ChildProcess,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.signalCode ?? `code ${child.exitCode}`})`);
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/** Signals a child and waits for it to exit; SIGKILL if it has not within 5 s. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? done(address.port) : fail(new Error('no port')),
      );
    });
  });
}
