// `vaxguard certificate get <ref>`: a beneficiary's SMART Health Card with a citizen's
// token, saved as its `shc:/` text (and the printable SVG). `vaxguard certificate
// verify <file | shc:/...>`: offline, with libs/health-cards and the issuer's keys
// (fetched from its keys URL, or from a file), as any verifier app would.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { callAs, fetchIssuerTrust, type IssuerTrust } from '@vaxguard/dev-operator';
import { createOfflineVerifier } from '@vaxguard/health-cards';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { EXIT, UsageError } from '../errors';
import { beneficiaryRef } from '../parse';

interface GetOptions {
  readonly tokenFile: string;
  readonly out?: string;
  readonly svg?: string;
}

async function get(context: CommandContext, options: GetOptions, ref: string) {
  const token = await context.readInput(options.tokenFile, '--token-file');
  if (!token)
    throw new UsageError('--token-file: the file is empty; it should hold a citizen token');
  const certificate = await context
    .operator()
    .records.call('getCertificate', { beneficiaryRef: ref }, callAs(token));
  const out = context.path(options.out ?? `certificate-${ref}.shc`);
  // The card is the person's record: readable by its owner only, like any credential here.
  writeFileSync(out, `${certificate.qr}\n`, { mode: 0o600 });
  chmodSync(out, 0o600);
  const svg = options.svg ? context.path(options.svg) : undefined;
  if (svg) writeFileSync(svg, certificate.svg, { mode: 0o600 });
  const shown = (file: string) => context.shown(file);
  const issuedAt = certificate.issuedAt?.toISOString() ?? '';
  context.result(
    [
      `certificate ${certificate.certificateId} of ${ref}, signed by issuer key ${certificate.kid} at ${issuedAt}`,
      `its shc:/ QR text: ${shown(out)}${svg ? `; printable SVG: ${shown(svg)}` : ''}`,
      `verify it offline: npx vaxguard certificate verify ${shown(out)}`,
    ],
    {
      certificateId: certificate.certificateId,
      beneficiaryRef: ref,
      kid: certificate.kid,
      issuedAt,
      file: out,
      ...(svg ? { svg } : {}),
    },
  );
}

interface VerifyOptions {
  readonly keysUrl?: string;
  readonly keysFile?: string;
  readonly crl?: readonly string[];
  readonly issuer?: string;
}

/** The card to verify: `shc:/` text given directly, or a file of it, a JWS or a .smart-health-card. */
function readCard(context: CommandContext, input: string): string {
  if (input.startsWith('shc:/')) return input.trim();
  const file = context.path(input);
  if (!existsSync(file)) {
    throw new UsageError(`no such file ${input}: give a file, or the shc:/ text itself`);
  }
  const text = readFileSync(file, 'utf8').trim();
  if (text.startsWith('{')) {
    // A .smart-health-card file: {"verifiableCredential": ["<jws>", ...]}.
    try {
      const { verifiableCredential } = JSON.parse(text) as { verifiableCredential?: unknown[] };
      const first = verifiableCredential?.[0];
      if (typeof first === 'string') return first;
    } catch {
      // not JSON after all: the verifier says MALFORMED
    }
  }
  return text;
}

function readJsonFile(context: CommandContext, file: string, what: string): unknown {
  const path = context.path(file);
  if (!existsSync(path)) throw new UsageError(`${what}: no such file ${file}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${what}: ${file} is not JSON`, { cause: error });
  }
}

async function trustOf(context: CommandContext, options: VerifyOptions): Promise<IssuerTrust> {
  if (options.keysFile) {
    const revocations: Record<string, unknown> = {};
    for (const file of options.crl ?? []) {
      const list = readJsonFile(context, file, '--crl') as { kid?: unknown };
      if (typeof list.kid !== 'string') throw new UsageError(`--crl: ${file} names no kid`);
      revocations[list.kid] = list;
    }
    return { jwks: readJsonFile(context, options.keysFile, '--keys-file'), revocations };
  }
  if (options.crl?.length) throw new UsageError('--crl goes with --keys-file');
  return fetchIssuerTrust(options.keysUrl ?? context.platform().issuer.keysUrl);
}

async function verify(context: CommandContext, options: VerifyOptions, input: string) {
  const card = readCard(context, input);
  const issuer = options.issuer ?? context.platform().issuer.url;
  const trust = await trustOf(context, options);
  let verifier;
  try {
    verifier = createOfflineVerifier({ issuers: [{ iss: issuer, ...trust }] });
  } catch (error) {
    throw new UsageError(
      `the issuer's keys are not usable: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const result = verifier.verify(card);
  const keysFrom = options.keysFile ?? options.keysUrl ?? context.platform().issuer.keysUrl;
  if (result.status === 'valid') {
    const doses = result.immunizations.map((dose) => ({
      vaccine: dose.vaccineCodings.map((coding) => coding.code).join(' / '),
      date: dose.occurrenceDate,
    }));
    context.result(
      [
        `valid: a SMART Health Card from ${result.iss}, signed by key ${result.kid} on ${result.issuedAt.toISOString()} (keys from ${keysFrom})`,
        `  ${result.patient.name}, born ${result.patient.birthYear}`,
        ...doses.map((dose) => `  ${dose.date}  ${dose.vaccine}`),
      ],
      {
        status: 'valid',
        iss: result.iss,
        kid: result.kid,
        issuedAt: result.issuedAt.toISOString(),
        patient: result.patient,
        doses,
      },
    );
    return EXIT.ok;
  }
  if (result.status === 'revoked') {
    context.result(
      [`revoked: signed by key ${result.kid} of ${result.iss}, but listed in its revocation list`],
      { status: 'revoked', iss: result.iss, kid: result.kid, issuedAt: result.issuedAt },
    );
    return EXIT.failed;
  }
  context.result([`invalid (${result.reason}): ${result.detail}`], {
    status: 'invalid',
    reason: result.reason,
    detail: result.detail,
  });
  return EXIT.failed;
}

export const certificateCommand: CliCommand = {
  register(program: Command, kit) {
    const certificate = program
      .command('certificate')
      .description(
        'SMART Health Card certificates: fetch one with a citizen token, verify one offline',
      );
    certificate
      .command('get')
      .description("a beneficiary's certificate, with the citizen's token, saved as its shc:/ text")
      .argument('<beneficiary-ref>', 'the beneficiary (bnf_...)', beneficiaryRef)
      .requiredOption(
        '--token-file <file>',
        "the citizen's token (from otp confirm --token-file), or - for standard input",
      )
      .option('--out <file>', 'where the shc:/ text goes (default certificate-<ref>.shc)')
      .option('--svg <file>', 'also write the printable certificate (SVG) here')
      .action(kit.action(get));
    certificate
      .command('verify')
      .description(
        "verify a card offline with the issuer's keys: valid (exit 0), revoked or invalid (exit 1)",
      )
      .argument(
        '<card>',
        'a file (shc:/ text, a JWS or a .smart-health-card) or the shc:/ text itself',
      )
      .option(
        '--keys-url <url>',
        "the issuer's jwks.json (default: the platform's); revocation lists beside it",
      )
      .option('--keys-file <file>', 'a JWK set file instead: no network at all')
      .option('--crl <files...>', 'revocation lists (crl/<kid>.json) to use with --keys-file')
      .option('--issuer <url>', "the issuer the card must name (default: the platform's)")
      .action(kit.action(verify));
  },
};
