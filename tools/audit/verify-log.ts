// Checks the audit log as an outside auditor (a witness) would, trusting nothing but the
// log's public verifier key: the latest checkpoint's signature, and a consistency proof
// from the checkpoint verified last time (libs/dev-operator's witness, which npm start
// and `npx vaxguard audit verify` run too).
//
//   npx tsx --tsconfig tools/tsconfig.json tools/audit/verify-log.ts \
//     [--address 127.0.0.1:50054] [--verifier-key <vkey> | --verifier-key-file <file>] \
//     [--state <file>] [--client-id <id> --client-secret-file <file>]
//
// Under `npm start` every option has a default: the address, the key file and the
// demo client written to .vaxguard/dev. Exits 0 when the log checks out, 1 otherwise.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { witnessAuditLog } from '@vaxguard/dev-operator';

// The witness itself is shared with npm start and the command line (npx vaxguard audit verify).
export { witnessAuditLog, type WitnessOptions } from '@vaxguard/dev-operator';

const DEV = resolve(import.meta.dirname, '../../.vaxguard/dev');

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
