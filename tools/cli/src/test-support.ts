// What the command line's tests share: a run of `vaxguard` with its output captured.
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
