import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Services never import each other; production code never imports the test harness.
function boundaries(inTests) {
  const testing = inTests ? ['type:testing'] : [];
  return {
    allow: [],
    depConstraints: [
      {
        sourceTag: 'type:service',
        onlyDependOnLibsWithTags: ['type:lib', 'type:proto', ...testing],
      },
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:proto', ...testing] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:proto'] },
      { sourceTag: 'type:proto', onlyDependOnLibsWithTags: [] },
      {
        sourceTag: 'type:tool',
        onlyDependOnLibsWithTags: ['type:lib', 'type:proto', 'type:testing'],
      },
    ],
  };
}

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'libs/proto/src/gen/**', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read the environment only in a config.ts (STYLE.md habit 2).',
        },
      ],
      '@nx/enforce-module-boundaries': ['error', boundaries(false)],
    },
  },
  {
    // Browser-test fixtures and suites (services/web) are test code too.
    files: ['**/*.test.ts', '**/test-support/**/*.ts', '**/*.browser.ts'],
    rules: { '@nx/enforce-module-boundaries': ['error', boundaries(true)] },
  },
  {
    // The scale benchmark seeds each service's database through that service's own code
    // (its vault and config, record rules, log writer and store), imported where it is.
    files: ['tools/bench/scale/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  {
    // Domain code is pure (STYLE.md habit 3): it speaks in domain types and ports, and
    // loads no transport. @vaxguard/proto and the libraries built on it load grpc-js.
    files: ['services/*/src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@grpc/*',
                'kafkajs',
                'pg',
                '@vaxguard/grpc-kit',
                '@vaxguard/events',
                '@vaxguard/db',
                '@vaxguard/runtime',
                '@vaxguard/metrics',
                'prom-client',
                '@vaxguard/auth',
                '@vaxguard/proto',
                '@vaxguard/event-catalogue',
              ],
              message:
                'services/*/src/domain is pure: no grpc-js, kafkajs, pg or transport library (STYLE.md habit 3); put this in an adapter.',
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      '**/config.ts',
      'libs/testing/src/**',
      'tools/**',
      '**/*.test.ts',
      '**/test-support/**/*.ts',
      'vitest.config.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
