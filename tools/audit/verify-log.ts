// Checks the audit log as an outside auditor would, trusting nothing but the log's public
// verifier key (and the witnesses' keys given) and its own state from last time
// (libs/dev-operator's verifier, which npm start and `npx vaxguard audit verify` run too):
//
//   1. the latest checkpoint's signature (and each --witness-key's cosignature);
//   2. a log smaller than the checkpoint verified last time: "the log shrank from N to M
//      entries", reported before the log is asked for any proof;
//   3. the consistency proof from that checkpoint (failing, or not given: a fork);
//   4. the entries new since then (every one with --full, or on a first round) read as an
//      auditor, each leaf hash and the root recomputed here; when they do not give the
//      signed root, the first bad entry is named: missing, out of place (its bytes are
//      another index's entry) or changed;
//   5. the state kept (the signed checkpoint, and <state>.leaves the leaf hash of each
//      entry it covers) only when all of that held.
//
//   npx tsx --tsconfig tools/tsconfig.json tools/audit/verify-log.ts \
//     [--platform .vaxguard/dev/platform.json] [--address 127.0.0.1:50054] \
//     [--verifier-key <vkey> | --verifier-key-file <file>] [--witness-key <vkey>]... \
//     [--state <file>] [--full] [--client-id <id> --client-secret-file <file>] \
//     [--auditor-session-file <file> | --auditor <username> --auditor-password-file <file>]
//
// Under `npm start` every option has a default, from the platform description it wrote:
// the address, the log's key, the demo client, and the platform admin as the auditor
// (signed in with its password and the STAFF_LOGIN code from the dev SMS inbox).
//
// Exit codes: 0 the log verified; 4 it was tampered with (a bad signature or missing
// cosignature, a shrink, a fork, a bad entry: the finding is printed); 3 it could not be
// checked (unreachable, refused, no credentials, a damaged state); 2 a usage error.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AUDIT_VERIFY_EXIT,
  describeVerdict,
  exitCodeOf,
  witnessCheckpoint,
  type AuditorCredentials,
  type WitnessOptions,
} from '@vaxguard/dev-operator';
import { readPlatformDescription, type PlatformDescription } from '@vaxguard/dev-platform';

// The verifier itself is shared with npm start and the command line.
export { witnessAuditLog, type WitnessOptions } from '@vaxguard/dev-operator';

const DEV = resolve(import.meta.dirname, '../../.vaxguard/dev');
const USAGE_EXIT = 2;

class UsageError extends Error {}

const read = (file: string) => readFileSync(file, 'utf8').trim();

function options(argv: readonly string[]): WitnessOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      platform: { type: 'string', default: resolve(DEV, 'platform.json') },
      address: { type: 'string' },
      'verifier-key': { type: 'string' },
      'verifier-key-file': { type: 'string' },
      'witness-key': { type: 'string', multiple: true, default: [] },
      state: { type: 'string', default: resolve(DEV, 'audit-log.witnessed') },
      full: { type: 'boolean', default: false },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'auditor-session-file': { type: 'string' },
      auditor: { type: 'string' },
      'auditor-password-file': { type: 'string' },
    },
  });
  const platform: PlatformDescription | undefined = existsSync(values.platform)
    ? readPlatformDescription(values.platform)
    : undefined;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) {
      throw new UsageError(`${what}, or a platform description (--platform; npm start writes one)`);
    }
    return value;
  };
  const address = need(values.address ?? platform?.services.audit, '--address');
  const verifierKey = need(
    values['verifier-key'] ??
      (values['verifier-key-file'] ? read(values['verifier-key-file']) : undefined) ??
      platform?.auditLog.verifierKey,
    '--verifier-key or --verifier-key-file',
  );
  const clientId = need(values['client-id'] ?? platform?.client.id, '--client-id');
  const clientSecret = need(
    values['client-secret-file'] ? read(values['client-secret-file']) : platform?.client.secret,
    '--client-secret-file',
  );
  if ((values.auditor === undefined) !== (values['auditor-password-file'] === undefined)) {
    throw new UsageError('--auditor and --auditor-password-file go together');
  }
  let auditor: AuditorCredentials;
  if (values['auditor-session-file']) {
    auditor = { session: read(values['auditor-session-file']) };
  } else {
    const signIn = need(platform, '--auditor-session-file');
    auditor = {
      username: values.auditor ?? signIn.admin.username,
      password: values['auditor-password-file']
        ? read(values['auditor-password-file'])
        : signIn.admin.password,
      identityAddress: signIn.services.identity,
      otpAddress: signIn.services.otp,
      smsInbox: signIn.smsInbox,
    };
  }
  return {
    address,
    verifierKey,
    witnessKeys: values['witness-key'],
    stateFile: values.state,
    clientId,
    clientSecret,
    auditor,
    full: values.full,
  };
}

/** Runs one round; prints what it found; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let witness: WitnessOptions;
  try {
    witness = options(argv);
  } catch (error) {
    process.stderr.write(`verify-log: ${error instanceof Error ? error.message : String(error)}\n`);
    return USAGE_EXIT;
  }
  try {
    const verdict = await witnessCheckpoint(witness);
    const lines = describeVerdict(verdict, witness.stateFile);
    process.stdout.write(`${lines.join('\n')}\n`);
    return exitCodeOf(verdict);
  } catch (error) {
    process.stderr.write(
      `could not check the audit log: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return AUDIT_VERIFY_EXIT.couldNotCheck;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
  // An open gRPC channel's timers must not keep a finished check alive.
  setTimeout(() => process.exit(), 100).unref();
}
