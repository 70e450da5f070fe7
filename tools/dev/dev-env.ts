// Where `npm start` keeps its state, and the service environment files it writes for
// `nx run <service>:serve` to read back (.vaxguard/dev/env/<service>.env).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseEnv } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DEV_STATE = resolve(ROOT, '.vaxguard/dev');
export const DEV_LOGS = resolve(DEV_STATE, 'logs');

/** The environment file `npm start` writes for a service. */
export function envFileOf(service: string): string {
  return resolve(DEV_STATE, 'env', `${service}.env`);
}

/** A path as the engineer typed it from the repository root. */
export function shown(path: string): string {
  return relative(ROOT, path) || '.';
}

/**
 * Writes `KEY='value'` lines, readable by `node --env-file`, `util.parseEnv` and a
 * shell's `set -a; . file`. Mode 0600: the file holds development secrets.
 */
export function writeEnvFile(
  file: string,
  variables: Readonly<Record<string, string>>,
  header: string,
): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const lines = Object.entries(variables).map(([name, value]) => {
    if (/['\n]/.test(value)) throw new Error(`${name}: a quote or newline cannot go in ${file}`);
    return `${name}='${value}'`;
  });
  writeFileSync(file, `# ${header}\n${lines.join('\n')}\n`, { mode: 0o600 });
  // The mode above applies only when the file is created.
  chmodSync(file, 0o600);
}

/** The variables in an environment file, or undefined when there is none. */
export function readEnvFile(file: string): Record<string, string> | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = parseEnv(readFileSync(file, 'utf8'));
  return Object.fromEntries(
    Object.entries(parsed).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
