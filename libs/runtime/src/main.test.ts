import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('runMain', () => {
  it('reports a bad configuration as the list of problems and exits 1, with no stack trace', () => {
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `
        import { env, loadConfig } from '@vaxguard/config';
        import { runMain } from './libs/runtime/src/main.ts';
        runMain('demo', () => { loadConfig({ PORT: 'x' }, { port: env.port('PORT'), url: env.postgresUrl('URL') }); return Promise.resolve(); });
      `,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, TSX_TSCONFIG_PATH: 'tools/tsconfig.json' },
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      'demo: invalid configuration:\n  - PORT: must be an integer\n  - URL: is required\n',
    );
    // A child process that compiles TypeScript on a busy 2-core machine: seconds, not ms.
  }, 30_000);
});
