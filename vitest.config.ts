import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The @vaxguard/* aliases come from tsconfig.base.json, the one place they are declared.
const root = fileURLToPath(new URL('.', import.meta.url));
const { compilerOptions } = JSON.parse(readFileSync(`${root}tsconfig.base.json`, 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};
const alias = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([name, [target]]) => [name, `${root}${target}`]),
);

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', './tools/dev/count-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{libs,services,tools}/**/src/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          // A timeout catches a hang, not slowness: the CPU-heavy tests (every consistency
          // proof up to 70 leaves, the property tests) share two cores with another suite.
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['{libs,services,tools}/**/src/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['libs/testing/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Containers are heavy on a 2-core machine: one test file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
