// The chart in deploy/vaxguard, rendered and linted with the real helm (built by
// `bash tools/dev/ensure-prereqs.sh helm`) and decoded strictly against the Kubernetes
// API types by the Go program beside this folder (main.go, k8s.io/api).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'deploy', 'vaxguard');
const TOOL_DIR = join(REPO_ROOT, 'tools', 'k8s-check');
const CACHE_DIR = join(homedir(), '.cache', 'vaxguard');
const HELM = join(CACHE_DIR, 'bin', 'helm');
// Go writes only under the project's own cache (as tools/tlog-interop's build does).
const GO_HOME = join(CACHE_DIR, 'go');
const GO_ENV = [
  `GOPATH=${GO_HOME}`,
  `GOMODCACHE=${join(GO_HOME, 'mod')}`,
  `GOCACHE=${join(GO_HOME, 'build')}`,
  'GOFLAGS=-mod=mod -buildvcs=false',
];

export interface Outcome {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** A Kubernetes object as the strict decoder returned it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly object: Record<string, unknown>;
}

export interface ChartTools extends Disposable {
  /** Runs helm with its own empty home (no repositories, no plugins, nothing kept). */
  helm(args: readonly string[]): Outcome;
  /** `helm template` of a chart folder with one value set (a file of deploy/vaxguard). */
  render(valuesFile: string, options?: { chartDir?: string; set?: readonly string[] }): Outcome;
  /** k8s-check on a manifest: refused objects and, when all decoded, the objects. */
  decodeStrictly(manifest: string): Outcome & { objects: readonly KubeObject[] };
}

/** Builds the Go check into a temporary folder and finds helm; dispose removes the folder. */
export function chartTools(): ChartTools {
  if (!existsSync(HELM)) {
    throw new Error(`${HELM} not found: run 'bash tools/dev/ensure-prereqs.sh helm'`);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'k8s-check-'));
  const checker = join(workDir, 'k8s-check');
  // `env` adds the Go variables to the inherited environment.
  const build = spawnSync('env', [...GO_ENV, 'go', 'build', '-o', checker, '.'], {
    cwd: TOOL_DIR,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (build.status !== 0) {
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`go build in tools/k8s-check failed: ${build.error?.message ?? build.stderr}`);
  }
  const helmHome = join(workDir, 'helm');
  const run = (command: string, args: readonly string[], input?: string): Outcome => {
    const result = spawnSync(command, args, {
      input,
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
      },
    });
    return {
      ok: result.status === 0,
      stdout: result.stdout,
      stderr: result.error ? result.error.message : result.stderr,
    };
  };
  const helm = (args: readonly string[]) => run(HELM, args);
  return {
    helm,
    render: (valuesFile, options = {}) =>
      helm([
        'template',
        'vaxguard',
        options.chartDir ?? CHART_DIR,
        '--namespace',
        'vaxguard',
        '-f',
        join(CHART_DIR, valuesFile),
        ...(options.set ?? []).flatMap((assignment) => ['--set', assignment]),
      ]),
    decodeStrictly: (manifest) => {
      const outcome = run(checker, ['-json'], manifest);
      const objects = outcome.stdout.trim() ? (JSON.parse(outcome.stdout) as KubeObject[]) : [];
      return { ...outcome, objects: objects ?? [] };
    },
    [Symbol.dispose]: () => rmSync(workDir, { recursive: true, force: true }),
  };
}
