// tools/dev/ensure-prereqs.sh, read as the npm scripts use it: every prerequisite a
// script asks for has a case, and the function that case calls is defined when the
// script starts (a function pasted inside another one is defined only once that one
// has run: `npm start` once failed with "ensure_jaeger: command not found").
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = 'tools/dev/ensure-prereqs.sh';

/** Each case of the script's loop and the command it runs: `jaeger) ensure_jaeger ;;`. */
function cases(): Map<string, string> {
  const text = readFileSync(`${WORKSPACE}${SCRIPT}`, 'utf8');
  const loop = text.slice(text.indexOf('for need in "$@"'));
  return new Map(
    [...loop.matchAll(/^\s+([a-z]+)\) ([a-z_]+)\b/gm)].map((match) => [
      match[1] ?? '',
      match[2] ?? '',
    ]),
  );
}

/** Every prerequisite an npm script of the workspace asks for. */
function asked(): Set<string> {
  const { scripts } = JSON.parse(readFileSync(`${WORKSPACE}package.json`, 'utf8')) as {
    scripts: Record<string, string>;
  };
  const needs = new Set<string>();
  const test = readFileSync(`${WORKSPACE}tools/dev/test.sh`, 'utf8');
  for (const line of [...Object.values(scripts), test]) {
    for (const match of line.matchAll(/ensure-prereqs\.sh((?: [a-z]+)+)/g)) {
      for (const need of (match[1] ?? '').trim().split(' ')) needs.add(need);
    }
  }
  return needs;
}

describe('ensure-prereqs.sh', () => {
  it('has a case for every prerequisite the npm scripts ask for', () => {
    const known = cases();
    expect(asked().size).toBeGreaterThan(5);
    for (const need of asked()) expect([need, known.has(need)]).toEqual([need, true]);
  });

  it('defines every function its cases call before any case runs', () => {
    const commands = [...new Set(cases().values())];
    expect(commands).toContain('ensure_jaeger');
    // Sourced with no arguments, the loop runs nothing: what is defined is what the
    // script defines at its top level.
    const result = spawnSync(
      'bash',
      ['-c', `source ${SCRIPT} && declare -F ${commands.join(' ')}`],
      { cwd: WORKSPACE, encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n').sort()).toEqual([...commands].sort());
  });
});
