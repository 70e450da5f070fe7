// Bundles one project with esbuild (and a web service's browser scripts and static
// files, at the end): a service's entry points (main, migrate, and
// rotate-keys or hash-password where a service has one; missing ones are skipped) or a library's
// index. Workspace libraries (@vaxguard/*, resolved through
// tsconfig paths) are bundled in; npm packages stay external and load from
// node_modules, so grpc-health-check and friends find their own files.
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
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
// A service with a web side (services/web): its public/ files (the stylesheet) copied to
// dist/public, and each src/browser/*.ts bundled for the browser beside them, served as
// /static/<name>.js. Scripts are files of the site's own origin, as its CSP requires.
const publicDir = join(projectRoot, 'public');
const browserDir = join(projectRoot, 'src', 'browser');
if (existsSync(publicDir)) cpSync(publicDir, join(outdir, 'public'), { recursive: true });
const browserEntries = existsSync(browserDir)
  ? readdirSync(browserDir)
      .filter((name) => /\.tsx?$/.test(name) && !/\.test\.tsx?$/.test(name))
      .map((name) => join(browserDir, name))
  : [];
if (browserEntries.length > 0) {
  await build({
    entryPoints: browserEntries,
    outdir: join(outdir, 'public'),
    bundle: true,
    platform: 'browser',
    target: ['chrome100', 'firefox100', 'safari15'],
    // A classic script (`<script src defer>`), self-contained.
    format: 'iife',
    minify: true,
    sourcemap: false,
    tsconfig: join(projectRoot, 'tsconfig.json'),
    logLevel: 'warning',
  });
}
console.log(
  `built ${entries.length} entry point(s)${browserEntries.length ? ` and ${browserEntries.length} browser script(s)` : ''} into ${outdir}`,
);
