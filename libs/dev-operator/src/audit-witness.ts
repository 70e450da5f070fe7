// Checks the audit log as an outside auditor (a witness) would, trusting nothing but the
// log's public verifier key: the latest checkpoint's signature, and that the tree it
// commits to extends the one this witness verified last time (a consistency proof), so
// the log can neither fork nor lose entries without the witness saying so. It keeps the
// last verified checkpoint in a file and moves it forward only when all holds.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServiceClient } from '@vaxguard/grpc-kit';
import { auditV1 } from '@vaxguard/proto';
import { auditCheckpoint, openCheckpoint, parseVerifierKey, TlogError } from '@vaxguard/tlog';

export interface WitnessOptions {
  readonly address: string;
  readonly verifierKey: string;
  /** Where the last verified signed checkpoint is kept. */
  readonly stateFile: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/** The log failed a check: a bad signature, a fork, lost entries. */
export class AuditLogCheckError extends Error {
  override readonly name = 'AuditLogCheckError';
}

/** What one witness round found. */
export interface WitnessReport {
  readonly origin: string;
  readonly size: number;
  /** The root hash, base64. */
  readonly rootHash: string;
  /** The size of the checkpoint verified before, when there was one. */
  readonly previousSize?: number;
  readonly stateFile: string;
}

/**
 * One witness round. Throws AuditLogCheckError when the log fails a check (and keeps
 * the state as it was); a refusal or an unreachable service throws the client kit's error.
 */
export async function witnessCheckpoint(options: WitnessOptions): Promise<WitnessReport> {
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
    const checked = <T>(check: () => T): T => {
      try {
        return check();
      } catch (error) {
        if (error instanceof TlogError)
          throw new AuditLogCheckError(error.message, { cause: error });
        throw error;
      }
    };
    const previous = previousNote
      ? checked(() => openCheckpoint(previousNote, [verifier], verifier.name).checkpoint)
      : undefined;
    // The signature first: nothing of an unsigned checkpoint is believed, its size neither.
    const signed = checked(() =>
      auditCheckpoint({
        verifierKey: options.verifierKey,
        signedCheckpoint: latest.signedCheckpoint,
      }),
    );
    if (previous && signed.size < previous.size) {
      throw new AuditLogCheckError(
        `the log shrank from ${previous.size} to ${signed.size} entries`,
      );
    }
    let checkpoint = signed;
    if (previous && previous.size > 0) {
      const proof = await audit.call(
        'getConsistencyProof',
        { oldSize: String(previous.size), newSize: String(signed.size) },
        { idempotent: true },
      );
      checkpoint = checked(() =>
        auditCheckpoint({
          verifierKey: options.verifierKey,
          signedCheckpoint: latest.signedCheckpoint,
          consistency: { previous, proof: proof.hashes },
        }),
      );
    }
    writeFileSync(options.stateFile, latest.signedCheckpoint);
    return {
      origin: checkpoint.origin,
      size: checkpoint.size,
      rootHash: Buffer.from(checkpoint.rootHash).toString('base64'),
      ...(previous ? { previousSize: previous.size } : {}),
      stateFile: options.stateFile,
    };
  } finally {
    audit.close();
  }
}

/** What a witness round found, one line each. */
export function describeWitnessReport(report: WitnessReport): string[] {
  return [
    `checkpoint of ${report.origin}: ${report.size} entries, root ${report.rootHash}, signature valid`,
    report.previousSize !== undefined
      ? `consistent with the checkpoint verified before (${report.previousSize} entries): nothing rewritten or removed`
      : `first checkpoint seen: kept in ${report.stateFile} to check the next one against`,
  ];
}

/** One witness round; returns what it found, one line each. Throws when the log fails a check. */
export async function witnessAuditLog(options: WitnessOptions): Promise<string[]> {
  return describeWitnessReport(await witnessCheckpoint(options));
}
