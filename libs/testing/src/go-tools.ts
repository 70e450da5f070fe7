// Go programs that tests run (tools/tlog-interop: golang.org/x/mod's sumdb clients),
// built with the Go toolchain into a temporary folder. Go writes only under the
// project's own cache; GOPROXY comes from the environment.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));

const GO_HOME = join(homedir(), '.cache', 'vaxguard', 'go');
const GO_ENV = [
  `GOPATH=${GO_HOME}`,
  `GOMODCACHE=${join(GO_HOME, 'mod')}`,
  `GOCACHE=${join(GO_HOME, 'build')}`,
  'GOFLAGS=-mod=mod -buildvcs=false',
];

export interface GoTool extends AsyncDisposable {
  /**
   * Runs the tool with `input` on its standard input. Asynchronous, so that a server in
   * the test's own process can answer the tool meanwhile.
   */
  run(
    args: readonly string[],
    input: string,
  ): Promise<{ ok: boolean; stdout: string; stderr: string }>;
}

/**
 * Builds the Go program in `dir` (a folder of the repository, relative to its root) and
 * returns a way to run it; disposing removes the binary.
 */
export function buildGoTool(dir: string): GoTool {
  const workDir = mkdtempSync(join(tmpdir(), 'vaxguard-go-tool-'));
  const binary = join(workDir, 'tool');
  const build = spawnSync('env', [...GO_ENV, 'go', 'build', '-o', binary, '.'], {
    cwd: join(WORKSPACE, dir),
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (build.status !== 0) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`go build in ${dir} failed: ${build.error?.message ?? build.stderr}`);
  }
  return {
    run(args, input) {
      return new Promise((resolve, reject) => {
        const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', reject);
        child.on('close', (code) =>
          resolve({
            ok: code === 0,
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          }),
        );
        child.stdin.end(input);
      });
    },
    async [Symbol.asyncDispose]() {
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
