// `npx nx run <service>:serve`: runs one built service in the foreground, its log on
// the console, with the environment `npm start` wrote for it when that file exists, so
// one service can be restarted against the infrastructure `npm start` brought up.
// Variables already set in the caller's environment win over the file. The service
// runs in this process, so its exit code (a taken port, a bad variable) is this one's.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { envFileOf, readEnvFile, ROOT, shown } from './dev-env';

function say(message: string): void {
  process.stderr.write(`[serve] ${message}\n`);
}

/**
 * Nx in a terminal passes Ctrl-C on to the task as well, so one keypress arrives as two
 * SIGINTs, and the service's handler stops at the first: the second would kill it in
 * the middle of draining. A SIGINT within a second of one the service handled is that
 * echo and is ignored; any other ends the process as SIGINT does by default.
 */
function ignoreEchoedInterrupt(): void {
  let handledAt = 0;
  process.on('SIGINT', () => {
    if (process.listenerCount('SIGINT') > 1) {
      handledAt = Date.now(); // the service's own handler runs too
    } else if (Date.now() - handledAt > 1_000) {
      process.exit(130);
    }
  });
}

async function main(): Promise<void> {
  const service = process.argv[2] ?? '';
  if (!/^[a-z][a-z-]*$/.test(service)) {
    say('usage: tsx tools/dev/serve.ts <service>');
    process.exit(2);
  }
  const entry = resolve(ROOT, 'services', service, 'dist/main.js');
  if (!existsSync(entry)) {
    say(`${shown(entry)} is not built; build it with npx nx run ${service}:build`);
    process.exit(2);
  }

  const file = envFileOf(service);
  const fromFile = readEnvFile(file);
  if (fromFile) {
    const yours = Object.keys(fromFile).filter((name) => process.env[name] !== undefined);
    for (const [name, value] of Object.entries(fromFile)) process.env[name] ??= value;
    const written = statSync(file).mtime.toLocaleString();
    say(`${service}: environment from ${shown(file)} (written by npm start, ${written})`);
    if (yours.length > 0) say(`${service}: your environment wins for ${yours.join(', ')}`);
  } else {
    say(`${service}: no ${shown(file)} (npm start writes it); using your environment only`);
  }

  process.setSourceMapsEnabled(true);
  ignoreEchoedInterrupt();
  await import(pathToFileURL(entry).href);
}

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
