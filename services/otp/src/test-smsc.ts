// The test SMS centre for the SMPP sender's tests: tools/smsc/Smsc.java on jSMPP, a
// Java SMPP 3.4 implementation (not this service's code, not its SMPP library), built
// by `bash tools/dev/ensure-prereqs.sh smsc` (npm test and CI ask for it) and started
// here as a child process on a loopback port. It reports what it saw as JSON lines and
// takes commands (throttle, reject a destination, drop the line) on its standard input.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SMSC_SOURCE = fileURLToPath(new URL('../../../tools/smsc/Smsc.java', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const WAIT_TIMEOUT_MS = 10_000;

export interface SmscEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** A submit_sm as the centre received it. */
export interface SmscSubmit extends SmscEvent {
  readonly event: 'submit';
  readonly seq: number;
  readonly status: 'ESME_ROK' | 'ESME_RTHROTTLED' | 'ESME_RINVDSTADR' | 'DROPPED';
  readonly messageId?: string;
  readonly sourceAddr: string;
  readonly sourceAddrTon: number;
  readonly destAddr: string;
  readonly registeredDelivery: number;
  readonly dataCoding: number;
  readonly text: string;
  /** Optional parameters by tag in 4 hex digits ("1400"), values as text. */
  readonly tlvs: Readonly<Record<string, string>>;
}

export interface TestSmsc extends AsyncDisposable {
  readonly port: number;
  /** Everything it reported so far, in order. */
  readonly events: readonly SmscEvent[];
  submits(): SmscSubmit[];
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws it (SIGCONT): what waited is answered. */
  resume(): void;
  /** Sends a command and waits for its acknowledgement. */
  command(line: string): Promise<void>;
  /** The first event (already seen or to come) after `from` that matches. */
  waitFor(match: (event: SmscEvent) => boolean, from?: number): Promise<SmscEvent>;
  stop(): Promise<void>;
}

/** Where ensure-prereqs builds the test SMS centre, under the given cache directory. */
export function testSmscDir(cacheDir = join(homedir(), '.cache', 'vaxguard')): string {
  return join(cacheDir, 'smsc');
}

/**
 * Starts the test SMS centre built in `dir` (`testSmscDir`), accepting binds of
 * `systemId` with `password`.
 */
export async function startTestSmsc(
  dir: string,
  systemId: string,
  password: string,
): Promise<TestSmsc> {
  const classes = join(dir, 'classes');
  const built = existsSync(join(dir, '.source'))
    ? readFileSync(join(dir, '.source'), 'utf8').split(' ')[0]
    : undefined;
  const source = createHash('sha256').update(readFileSync(SMSC_SOURCE)).digest('hex');
  if (built !== source) {
    throw new Error(
      `the test SMS centre in ${dir} is missing or not of tools/smsc/Smsc.java: run 'bash tools/dev/ensure-prereqs.sh smsc'`,
    );
  }
  const child: ChildProcessWithoutNullStreams = spawn(
    'java',
    [
      '-Xshare:auto',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      `${join(dir, 'lib', '*')}:${classes}`,
      'Smsc',
      systemId,
      password,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const events: SmscEvent[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as SmscEvent);
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const waitFor = (match: (event: SmscEvent) => boolean, from = 0, timeoutMs = WAIT_TIMEOUT_MS) =>
    new Promise<SmscEvent>((resolve, reject) => {
      const check = (): void => {
        const found = events.slice(from).find(match);
        if (!found) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`the test SMS centre did not report it in time; stderr: ${stderr}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.stdin.end();
    const killer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(killer);
  };

  let port: number;
  try {
    const listening = await waitFor((event) => event.event === 'listening', 0, START_TIMEOUT_MS);
    port = Number(listening['port']);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    events,
    submits: () => events.filter((event): event is SmscSubmit => event.event === 'submit'),
    async command(line) {
      const from = events.length;
      const name = line.split(' ')[0];
      child.stdin.write(`${line}\n`);
      await waitFor((event) => event.event === 'ok' && event['command'] === name, from);
    },
    waitFor: (match, from) => waitFor(match, from),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
