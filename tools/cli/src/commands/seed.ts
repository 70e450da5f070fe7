// `vaxguard seed`: demo data through the public gRPC APIs, as the platform admin and as
// citizens signing in with an OTP (libs/dev-operator's seeding, which npm start's demo
// runs too). Passwords, partner secrets and the citizens' mobiles go to a file (0600);
// the output shows usernames, ids and masked mobiles only.
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
  BENEFICIARIES_PER_MOBILE,
  maskedMobile,
  seedBeneficiaries,
  seedPrincipals,
} from '@vaxguard/dev-operator';
import { isVaxGuardError } from '@vaxguard/errors';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { CheckFailedError } from '../errors';
import { seedTag, wholeNumber } from '../parse';

/** Below this many beneficiaries a seed is over before a bar would say anything. */
const PROGRESS_BAR_FROM = 20;

interface SeedOptions {
  readonly centres: number;
  readonly beneficiaries: number;
  readonly perCitizen: number;
  readonly concurrency: number;
  readonly tag?: string;
  readonly principalsFile?: string;
}

/**
 * The audit service's anomaly rules stop a client that sends codes too fast (a partner's
 * surge, an OTP flood) by locking it: a seed too large for them ends so. Said plainly,
 * since every later command through that client is refused too.
 */
function lockedOut(error: unknown, clientId: string): CheckFailedError | undefined {
  if (!isVaxGuardError(error)) return undefined;
  if (error.reason !== 'PRINCIPAL_SUSPENDED' && error.reason !== 'PARTNER_LOCKED') return undefined;
  return new CheckFailedError(
    `the platform locked the operator's client ${clientId} during the seed (${error.reason}): the audit service's anomaly rules stop a client sending codes this fast (more than AUDIT_ANOMALY_PARTNER_SURGE_MINIMUM, 600, of its calls in 10 minutes; OTP floods). Seed fewer at a time; until a platform admin reinstates the client through another client application, every call through it is refused`,
    { cause: error },
  );
}

const randomTag = () =>
  randomBytes(3)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, 'x');

function progressBar(context: CommandContext, total: number) {
  if (context.json || !context.io.stderrIsTty || total < PROGRESS_BAR_FROM) return undefined;
  const bar = new SingleBar({
    format: 'seeding beneficiaries [{bar}] {value}/{total} {percentage}% eta {eta_formatted}',
    stream: context.io.stderrStream ?? process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(total, 0);
  return bar;
}

async function seed(context: CommandContext, options: SeedOptions) {
  const tag = options.tag ?? randomTag();
  const started = Date.now();
  const client = context.operator();
  const admin = context.adminCredentials();
  const principals = await context.asStaff(admin, (token) =>
    seedPrincipals(client, token, { centres: options.centres, tag }),
  );
  const bar = progressBar(context, options.beneficiaries);
  let seeded;
  try {
    seeded = await context.asStaff(admin, (token) =>
      seedBeneficiaries(client, token, {
        count: options.beneficiaries,
        perCitizen: options.perCitizen,
        concurrency: options.concurrency,
        onProgress: (done) => bar?.update(done),
      }),
    );
  } catch (error) {
    throw lockedOut(error, context.platform().client.id) ?? error;
  } finally {
    bar?.stop();
  }
  const { households } = seeded;
  const file = context.path(
    options.principalsFile ?? `${context.platformDir}/seeded-principals-${tag}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        tag,
        ...principals,
        citizens: households.map(({ mobile, beneficiaries }) => ({
          mobile,
          beneficiaryRefs: beneficiaries.map((b) => b.beneficiaryRef),
        })),
      },
      null,
      2,
    )}\n`,
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  const shownFile = context.shown(file);
  const beneficiaryRefs = households.flatMap(({ beneficiaries }) =>
    beneficiaries.map((b) => b.beneficiaryRef),
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const sample = households.slice(0, 3).map(({ mobile }) => maskedMobile(mobile));
  context.result(
    [
      `seeded as ${admin.username} (tag ${tag}) in ${seconds} s:`,
      `  ${principals.centres.length} centres: ${principals.centres.map((c) => `${c.name} ${c.centreId}`).join(', ')}`,
      `  ${principals.staff.length} staff: ${principals.staff.map((s) => `${s.username} (${s.role}, ${s.staffId})`).join(', ')}`,
      `  ${principals.partners.length} partners: ${principals.partners.map((p) => p.clientId).join(', ')}`,
      `  ${beneficiaryRefs.length} beneficiaries of ${households.length} citizens (${sample.join(', ')}${households.length > sample.length ? ', ...' : ''}), such as ${beneficiaryRefs.slice(0, 2).join(', ')}`,
      `passwords, partner secrets and the citizens' mobiles: ${shownFile} (mode 0600)`,
    ],
    {
      tag,
      centres: principals.centres,
      staff: principals.staff.map(({ staffId, username, role, centre }) => ({
        staffId,
        username,
        role,
        centre,
      })),
      partners: principals.partners.map(({ clientId, displayName, scopes, quotaPerMinute }) => ({
        clientId,
        displayName,
        scopes,
        quotaPerMinute,
      })),
      citizens: households.map(({ mobile, beneficiaries }) => ({
        maskedMobile: maskedMobile(mobile),
        beneficiaryRefs: beneficiaries.map((b) => b.beneficiaryRef),
      })),
      principalsFile: file,
      seconds: Number(seconds),
    },
  );
}

export const seedCommand: CliCommand = {
  register(program: Command, kit) {
    program
      .command('seed')
      .description(
        'demo data through the public gRPC APIs: as the platform admin, centres (a vaccinator and a centre admin each), an auditor and two partners; citizens sign in with an OTP and register beneficiaries',
      )
      .option('--centres <n>', 'centres to create', wholeNumber(1, 1000), 2)
      .option('--beneficiaries <n>', 'beneficiaries to register', wholeNumber(0, 1_000_000), 4)
      .option(
        '--per-citizen <n>',
        `beneficiaries per citizen's mobile (1 to ${BENEFICIARIES_PER_MOBILE})`,
        wholeNumber(1, BENEFICIARIES_PER_MOBILE),
        2,
      )
      .option('--concurrency <n>', 'citizens signing in at the same time', wholeNumber(1, 64), 4)
      .option(
        '--tag <tag>',
        'ends every username, partner id and centre name, so seeds do not clash (default: random)',
        seedTag,
      )
      .option(
        '--principals-file <file>',
        'where the passwords, partner secrets and mobiles go (default: seeded-principals-<tag>.json beside the platform description)',
      )
      .addHelpText(
        'after',
        `
A progress bar shows on a terminal from ${PROGRESS_BAR_FROM} beneficiaries. Each citizen signs in with an
OTP, and the OTP service limits the codes a client may have sent a minute
(OTP_CLIENT_QUOTA_PER_MINUTE): a large seed (--beneficiaries 10000 --per-citizen 4 is
2,500 sign-ins) waits as the service tells it, so it runs at that pace.`,
      )
      .action(kit.action(seed));
  },
};
