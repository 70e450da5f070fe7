// The chart in deploy/vaxguard, rendered and linted with the real helm (built by
// `bash tools/dev/ensure-prereqs.sh helm`) and decoded strictly against the Kubernetes
// API types by the Go program beside this folder (main.go, k8s.io/api).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoTool } from '@vaxguard/testing';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'deploy', 'vaxguard');
const HELM = join(homedir(), '.cache', 'vaxguard', 'bin', 'helm');

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

export interface ChartTools extends AsyncDisposable {
  /** Runs helm with its own empty home (no repositories, no plugins, nothing kept). */
  helm(args: readonly string[]): Outcome;
  /** `helm template` of a chart folder with one value set (a file of deploy/vaxguard). */
  render(valuesFile: string, options?: { chartDir?: string; set?: readonly string[] }): Outcome;
  /** k8s-check on a manifest: refused objects and, when all decoded, the objects. */
  decodeStrictly(manifest: string): Promise<Outcome & { objects: readonly KubeObject[] }>;
}

/** Builds the Go check and finds helm; disposing removes the binary and helm's home. */
export function chartTools(): ChartTools {
  if (!existsSync(HELM)) {
    throw new Error(`${HELM} not found: run 'bash tools/dev/ensure-prereqs.sh helm'`);
  }
  const checker = buildGoTool('tools/k8s-check');
  const workDir = mkdtempSync(join(tmpdir(), 'vaxguard-helm-'));
  const helmHome = join(workDir, 'helm');
  const helm = (args: readonly string[]): Outcome => {
    const result = spawnSync(HELM, args, {
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
    decodeStrictly: async (manifest) => {
      const outcome = await checker.run(['-json'], manifest);
      // `null` when nothing decoded.
      const objects = outcome.stdout.trim() ? (JSON.parse(outcome.stdout) as KubeObject[]) : [];
      return { ...outcome, objects: objects ?? [] };
    },
    async [Symbol.asyncDispose]() {
      rmSync(workDir, { recursive: true, force: true });
      await checker[Symbol.asyncDispose]();
    },
  };
}
