// Checks the audit log as an outside auditor (a witness) would, trusting nothing but the
// log's public verifier key: the latest checkpoint's signature, and that the tree it
// commits to extends the one this witness verified last time (a consistency proof), so
// the log can neither fork nor lose entries without this tool saying so. It keeps the
// last verified checkpoint in a file and moves it forward only when all holds.
//
//   npx tsx --tsconfig tools/tsconfig.json tools/audit/verify-log.ts \
//     [--address 127.0.0.1:50054] [--verifier-key <vkey> | --verifier-key-file <file>] \
//     [--state <file>] [--client-id <id> --client-secret-file <file>]
//
// Under `npm start` every option has a default: the address, the key file and the
// demo client written to .vaxguard/dev. Exits 0 when the log checks out, 1 otherwise.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { auditV1 } from '@vaxguard/proto';
import { auditCheckpoint, openCheckpoint, parseVerifierKey } from '@vaxguard/tlog';

const DEV = resolve(import.meta.dirname, '../../.vaxguard/dev');

export interface WitnessOptions {
  readonly address: string;
  readonly verifierKey: string;
  /** Where the last verified signed checkpoint is kept. */
  readonly stateFile: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** One witness round; returns what it found, one line each. Throws when the log fails a check. */
export async function witnessAuditLog(options: WitnessOptions): Promise<string[]> {
  const audit = createServiceClient(auditV1.AuditServiceService, {
    address: options.address,
    clientId: options.clientId,
    secret: options.clientSecret,
    deadlineMs: 10_000,
  });
  try {
    const latest = await audit.call('getCheckpoint', {}, { idempotent: true });
    const verifier = parseVerifierKey(options.verifierKey);
    const previousNote = existsSync(options.stateFile)
      ? readFileSync(options.stateFile, 'utf8')
      : undefined;
    const previous = previousNote
      ? openCheckpoint(previousNote, [verifier], verifier.name).checkpoint
      : undefined;
    let consistency;
    if (previous && previous.size > 0) {
      const proof = await audit.call(
        'getConsistencyProof',
        { oldSize: String(previous.size), newSize: latest.treeSize },
        { idempotent: true },
      );
      consistency = { previous, proof: proof.hashes };
    }
    const checkpoint = auditCheckpoint({
      verifierKey: options.verifierKey,
      signedCheckpoint: latest.signedCheckpoint,
      ...(consistency ? { consistency } : {}),
    });
    if (previous && checkpoint.size < previous.size) {
      throw new Error(`the log shrank from ${previous.size} to ${checkpoint.size} entries`);
    }
    writeFileSync(options.stateFile, latest.signedCheckpoint);
    const root = Buffer.from(checkpoint.rootHash).toString('base64');
    return [
      `checkpoint of ${checkpoint.origin}: ${checkpoint.size} entries, root ${root}, signature valid`,
      previous
        ? `consistent with the checkpoint verified before (${previous.size} entries): nothing rewritten or removed`
        : `first checkpoint seen: kept in ${options.stateFile} to check the next one against`,
    ];
  } finally {
    audit.close();
  }
}

function devSecret(name: 'demoClientSecret'): string {
  const secrets = JSON.parse(readFileSync(resolve(DEV, 'secrets.json'), 'utf8')) as Record<
    string,
    string
  >;
  const value = secrets[name];
  if (!value) throw new Error(`${name} is not in .vaxguard/dev/secrets.json: run npm start`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      address: { type: 'string', default: '127.0.0.1:50054' },
      'verifier-key': { type: 'string' },
      'verifier-key-file': { type: 'string', default: resolve(DEV, 'audit-log.vkey') },
      state: { type: 'string', default: resolve(DEV, 'audit-log.witnessed') },
      'client-id': { type: 'string', default: 'demo-portal' },
      'client-secret-file': { type: 'string' },
    },
  });
  const verifierKey =
    values['verifier-key'] ?? readFileSync(values['verifier-key-file'], 'utf8').trim();
  const clientSecret = values['client-secret-file']
    ? readFileSync(values['client-secret-file'], 'utf8').trim()
    : devSecret('demoClientSecret');
  const lines = await witnessAuditLog({
    address: values.address,
    verifierKey,
    stateFile: values.state,
    clientId: values['client-id'],
    clientSecret,
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `audit log check failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
