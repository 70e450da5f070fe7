#!/usr/bin/env node
// `npx vaxguard`: linked into node_modules/.bin by the root package.json's
// "@vaxguard/cli": "file:tools/cli" dependency, so npx runs this copy and never looks
// for a package of that name in a registry. The command line is TypeScript run through
// the repository's tsx, with the workspace's path aliases (@vaxguard/*).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: join(dirname(fileURLToPath(import.meta.url)), '../tsconfig.json') });
await import('../src/main.ts');
