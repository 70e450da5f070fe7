// What the command line's tests share: a run of `vaxguard` with its output captured, and
// a platform description that points nowhere.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli';
import type { CliIo } from './context';

export interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the command line in-process, as `npx vaxguard <argv>` would from `cwd`. */
export async function vaxguard(
  argv: readonly string[],
  options: {
    cwd?: string;
    stdin?: string;
    signal?: AbortSignal;
    /** Called with all of stdout so far after each write: for commands that follow. */
    onStdout?: (stdout: string) => void;
  } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
      options.onStdout?.(stdout);
    },
    stderr: (text) => (stderr += text),
    stderrIsTty: false,
    cwd: options.cwd ?? process.cwd(),
    readStdin: async () => options.stdin ?? '',
    signal: options.signal ?? new AbortController().signal,
  };
  const exitCode = await runCli(argv, io);
  return { exitCode, stdout, stderr };
}

/**
 * Writes a platform description whose services, PostgreSQL and Kafka are nowhere
 * (127.0.0.1:2): a command run with it must stop before reaching them. Returns its path.
 */
export function unreachablePlatform(
  dir: string,
  auditLog = { origin: 'audit.test', verifierKey: 'audit.test+00000000+AAAA' },
): string {
  const file = join(dir, 'platform.json');
  writeFileSync(
    file,
    JSON.stringify({
      services: {
        identity: '127.0.0.1:2',
        otp: '127.0.0.1:2',
        'vaccination-record': '127.0.0.1:2',
        audit: '127.0.0.1:2',
      },
      postgres: { adminUrl: 'postgres://u:p@127.0.0.1:2/vaxguard', databases: {} },
      kafkaBrokers: '127.0.0.1:2',
      client: { id: 'operator', secret: 'secret' },
      admin: { username: 'root.admin', password: 'password' },
      smsInbox: join(dir, 'sms.jsonl'),
      issuer: { url: 'https://vaxguard.test/issuer', keysUrl: 'http://127.0.0.1:2/jwks.json' },
      auditLog,
    }),
  );
  return file;
}
