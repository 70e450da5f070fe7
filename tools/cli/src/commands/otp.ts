// `vaxguard otp request <mobile>` and `vaxguard otp confirm <txn> [code]`: a citizen's
// sign-in by hand, as the operator's client. The mobile is shown masked; the code is
// read from the development SMS inbox unless given, and never printed; the token is
// printed only when asked for (--print-token) or written to a file (0600).
import { chmodSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { maskedMobile } from '@vaxguard/dev-operator';
import { otpV1 } from '@vaxguard/proto';
import type { CliCommand } from '../cli';
import type { CommandContext } from '../context';
import { UsageError } from '../errors';
import { mobileNumber, otpCode, seconds } from '../parse';

async function request(
  context: CommandContext,
  options: { mobileFile?: string },
  mobileInput: string | undefined,
) {
  if ((mobileInput === undefined) === (options.mobileFile === undefined)) {
    throw new UsageError('give a mobile, or --mobile-file <file> holding one, not both');
  }
  // From a file: the number is never on a command line, in a shell history or a tour.
  const mobile = mobileNumber(
    mobileInput ?? (await context.readInput(options.mobileFile as string, '--mobile-file')),
  );
  const sent = await context.operator().requestCitizenOtp(mobile);
  const expiresAt = sent.expiresAt?.toISOString() ?? '';
  context.result(
    [
      `sent a CITIZEN_LOGIN code to ${maskedMobile(mobile)}: transaction ${sent.txnId}, valid until ${expiresAt}, ${sent.attemptsAllowed} attempts`,
      `confirm it (the code is read from the dev SMS inbox): npx vaxguard otp confirm ${sent.txnId}`,
    ],
    {
      txnId: sent.txnId,
      to: maskedMobile(mobile),
      purpose: 'CITIZEN_LOGIN',
      expiresAt,
      resendAvailableAt: sent.resendAvailableAt?.toISOString() ?? '',
      attemptsAllowed: sent.attemptsAllowed,
    },
  );
}

interface ConfirmOptions {
  readonly printToken?: boolean;
  readonly tokenFile?: string;
  readonly wait: number;
}

async function confirm(
  context: CommandContext,
  options: ConfirmOptions,
  txnId: string,
  codeInput: string | undefined,
) {
  const code = codeInput === undefined ? undefined : otpCode(codeInput);
  if (!/^[\w.-]{1,128}$/.test(txnId)) throw new UsageError('that is not a transaction id');
  const client = context.operator();
  const { token, claims } = await client.confirm(
    txnId,
    code ?? (await client.smsCode(txnId, { timeoutMs: options.wait * 1000 })),
  );
  const purpose = otpV1.otpPurposeToJSON(claims?.purpose ?? 0).replace('OTP_PURPOSE_', '');
  const expiresAt = claims?.expiresAt?.toISOString() ?? '';
  let saved: string | undefined;
  if (options.tokenFile) {
    saved = context.path(options.tokenFile);
    writeFileSync(saved, `${token}\n`, { mode: 0o600 });
    chmodSync(saved, 0o600);
  }
  const summary = {
    confirmed: true,
    purpose,
    audience: claims?.audience ?? '',
    clientId: claims?.clientId ?? '',
    tokenId: claims?.tokenId ?? '',
    keyId: claims?.keyId ?? '',
    expiresAt,
    ...(saved ? { tokenFile: saved } : {}),
  };
  const lines = [
    `confirmed: a ${purpose} token for client ${summary.clientId} (audience ${summary.audience}), token id ${summary.tokenId}, signed by key ${summary.keyId}, valid until ${expiresAt}`,
    saved
      ? `the token is in ${options.tokenFile} (mode 0600)`
      : options.printToken
        ? ''
        : 'the token is not shown: add --print-token to print it, or --token-file <file> to save it',
  ].filter(Boolean);
  if (options.printToken && !context.json) {
    // The token alone on stdout, so that it pipes; what it is goes to stderr.
    for (const line of lines) context.note(line);
    context.io.stdout(`${token}\n`);
    return;
  }
  context.result(lines, options.printToken ? { ...summary, token } : summary);
}

export const otpCommand: CliCommand = {
  register(program: Command, kit) {
    const otp = program
      .command('otp')
      .description("a citizen's OTP sign-in by hand: request a code, confirm it");
    otp
      .command('request')
      .description('send a CITIZEN_LOGIN code to a mobile (shown masked)')
      .argument('[mobile]', 'an Indian mobile number, 10 digits starting with 6-9 (+91 optional)')
      .option(
        '--mobile-file <file>',
        "read the mobile from this file instead (npm start writes its demo citizen's to .vaxguard/dev/demo-citizen.mobile), or - for standard input",
      )
      .action(kit.action(request));
    otp
      .command('confirm')
      .description(
        'confirm a transaction for a token: the code given, or the one in the dev SMS inbox',
      )
      .argument('<txn>', 'the transaction id from otp request')
      .argument('[code]', 'the 6-digit code (default: read from the dev SMS inbox)')
      .option('--print-token', 'print the token itself (alone on stdout, or in the JSON)')
      .option('--token-file <file>', 'write the token to this file (mode 0600)')
      .option('--wait <seconds>', 'how long to wait for the code to reach the inbox', seconds, 30)
      .addHelpText(
        'after',
        '\nThe token is a credential: it is printed only with --print-token. Save it for other commands with --token-file.',
      )
      .action(kit.action(confirm));
  },
};
