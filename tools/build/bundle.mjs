// Bundles one project with esbuild: a service's entry points (main, migrate, and
// rotate-keys or hash-password where a service has one; missing ones are skipped) or a library's
// index. Workspace libraries (@vaxguard/*, resolved through
// tsconfig paths) are bundled in; npm packages stay external and load from
// node_modules, so grpc-health-check and friends find their own files.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const projectRoot = process.argv[2];
if (!projectRoot) {
  console.error('usage: node tools/build/bundle.mjs <projectRoot>');
  process.exit(2);
}
// A library is its public surface, index.ts; a service has its entry points.
const library = existsSync(join(projectRoot, 'src', 'index.ts'));
const entries = (library ? ['index'] : ['main', 'migrate', 'rotate-keys', 'hash-password'])
  .map((name) => join(projectRoot, 'src', `${name}.ts`))
  .filter((file) => existsSync(file));
const outdir = join(projectRoot, 'dist');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  tsconfig: join(projectRoot, 'tsconfig.json'),
  logLevel: 'warning',
});
console.log(`built ${entries.length} entry point(s) into ${outdir}`);
