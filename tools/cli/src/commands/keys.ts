// `vaxguard keys rotate <tokens | issuer | audit-log>`: rotation on demand, with what each
// service offers. The OTP service's token signing key and the certificate issuer's key
// are rotated by the service's own rotate-keys task (its built dist/rotate-keys.js, run
// with the service's configuration: npm start's env file, or --env-file). The audit log
// has one signing key in its configuration and no way to rotate it: refused, saying why.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { CheckFailedError, EXIT, UsageError } from '../errors';
import { WORKSPACE } from '../workspace';

const ROTATABLE = {
  tokens: {
    service: 'otp',
    what: "the OTP service's token signing key",
    needs: ['DATABASE_URL', 'OTP_KEY_ENCRYPTION_KEY'],
  },
  issuer: {
    service: 'vaccination-record',
    what: "the certificate issuer's signing key",
    needs: ['DATABASE_URL', 'ISSUER_KEY_ENCRYPTION_KEY'],
  },
} as const;
type Rotatable = keyof typeof ROTATABLE;
const TARGETS = ['tokens', 'issuer', 'audit-log'] as const;
type Target = (typeof TARGETS)[number];

const AUDIT_LOG_NOT_SUPPORTED =
  'not supported: the audit service signs every checkpoint with the one key in AUDIT_LOG_SIGNER_KEY and has no rotation; ' +
  'a new key means restarting it with that key and giving every witness the new verifier key, and VerifyLog would then refuse the checkpoints the old key signed';

/** The service's own configuration, as npm start wrote it or as given. */
function serviceEnvironment(
  context: CommandContext,
  target: Rotatable,
  envFile: string | undefined,
): Record<string, string> {
  const { service, needs } = ROTATABLE[target];
  const file = envFile
    ? context.path(envFile)
    : resolve(context.platformDir, 'env', `${service}.env`);
  if (!existsSync(file)) {
    throw new UsageError(
      `keys rotate ${target} runs with ${service}'s own configuration (${needs.join(', ')}): no ${file}; npm start writes it, or pass --env-file <file>`,
    );
  }
  const variables = Object.fromEntries(
    Object.entries(parseEnv(readFileSync(file, 'utf8'))).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const missing = needs.filter((name) => !variables[name]);
  if (missing.length > 0) throw new UsageError(`${file} does not set ${missing.join(', ')}`);
  return variables;
}

/** Runs the service's rotate-keys task; resolves with the new key's id from its log. */
function runTask(target: Rotatable, environment: Record<string, string>): Promise<string> {
  const { service } = ROTATABLE[target];
  const task = resolve(WORKSPACE, 'services', service, 'dist', 'rotate-keys.js');
  if (!existsSync(task)) {
    throw new CheckFailedError(
      `services/${service}/dist/rotate-keys.js is not built: run npx nx run ${service}:build`,
    );
  }
  const child = spawn(process.execPath, [task], {
    cwd: WORKSPACE,
    // Only the service's configuration: the task reads what it needs, and its log line
    // naming the new key is at info.
    env: { PATH: process.env['PATH'] ?? '', ...environment, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => {
      const records = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => {
          try {
            return JSON.parse(line) as Record<string, unknown>;
          } catch {
            return {};
          }
        });
      const kid = records
        .map((record) => record['keyId'] ?? record['kid'])
        .find((id) => typeof id === 'string');
      if (code === 0 && typeof kid === 'string') return done(kid);
      // The task's log is redacted by the service's logger: safe to show.
      const last = output.trimEnd().split('\n').slice(-5).join('\n');
      fail(
        new CheckFailedError(
          `${service}'s rotate-keys task ${code === 0 ? 'named no new key' : `failed (exit ${code})`}:\n${last}`,
        ),
      );
    });
  });
}

/** Whether the platform publishes the key: what verifiers will fetch. */
async function published(
  context: CommandContext,
  target: Rotatable,
  kid: string,
): Promise<boolean> {
  const client = context.operator();
  const kids =
    target === 'tokens'
      ? (await client.otp.call('getSigningKeys', {}, { idempotent: true })).keys.map(
          (key) => key.kid,
        )
      : (
          JSON.parse(
            (await client.records.call('getIssuerKeys', {}, { idempotent: true })).jwksJson,
          ) as { keys: { kid: string }[] }
        ).keys.map((key) => key.kid);
  return kids.includes(kid);
}

const AFTER_ROTATION: Record<Rotatable, string> = {
  tokens:
    'each OTP instance signs with it from its next key refresh (OTP_SIGNING_KEY_REFRESH, 1 minute by default); the earlier key stays published until its tokens expire',
  issuer:
    'new certificates are signed with it now; earlier keys stay published, so the certificates they signed keep verifying',
};

async function rotate(context: CommandContext, options: { envFile?: string }, targets: string[]) {
  const unknown = targets.filter((target) => !(TARGETS as readonly string[]).includes(target));
  if (unknown.length > 0) {
    throw new UsageError(`unknown key ${unknown.join(', ')}: choose from ${TARGETS.join(', ')}`);
  }
  const wanted = [...new Set(targets)] as Target[];
  const rotatable = wanted.filter((target): target is Rotatable => target !== 'audit-log');
  if (options.envFile && rotatable.length !== 1) {
    throw new UsageError("--env-file is one service's configuration: rotate one key with it");
  }
  // Every configuration is checked before anything is rotated.
  const environments = rotatable.map((target) =>
    serviceEnvironment(context, target, options.envFile),
  );
  const rotated: { key: Rotatable; service: string; kid: string; published: boolean }[] = [];
  const text: string[] = [];
  for (const [index, target] of rotatable.entries()) {
    const kid = await runTask(target, environments[index] as Record<string, string>);
    const isPublished = await published(context, target, kid);
    rotated.push({ key: target, service: ROTATABLE[target].service, kid, published: isPublished });
    text.push(
      `rotated ${ROTATABLE[target].what}: new key ${kid}${isPublished ? ', published' : ', NOT yet published'}; ${AFTER_ROTATION[target]}`,
    );
  }
  const unsupported = wanted.includes('audit-log');
  if (unsupported && rotated.length === 0) {
    throw new CheckFailedError(`keys rotate audit-log: ${AUDIT_LOG_NOT_SUPPORTED}`);
  }
  if (unsupported) text.push(`audit-log: ${AUDIT_LOG_NOT_SUPPORTED}`);
  context.result(text, {
    ok: !unsupported && rotated.every((key) => key.published),
    rotated,
    ...(unsupported ? { notSupported: { 'audit-log': AUDIT_LOG_NOT_SUPPORTED } } : {}),
  });
  return unsupported || rotated.some((key) => !key.published) ? EXIT.failed : EXIT.ok;
}

export const keysCommand: CliCommand = {
  register(program: Command, kit) {
    const keys = program.command('keys').description('signing keys of the platform');
    keys
      .command('rotate')
      .description(
        "rotate signing keys now: tokens (the OTP service's), issuer (the certificate issuer's at vaccination-record); audit-log is not supported",
      )
      .argument('<key...>', `which: ${TARGETS.join(', ')}`)
      .option(
        '--env-file <file>',
        "the service's configuration (default: env/<service>.env beside the platform description, as npm start writes it)",
      )
      .addHelpText(
        'after',
        `
Each key is rotated by its service's own task (services/<service>/dist/rotate-keys.js),
run with the service's configuration; the running service keeps serving. The audit
log's key cannot be rotated on demand: ${AUDIT_LOG_NOT_SUPPORTED}.`,
      )
      .action(kit.action(rotate));
  },
};
