// The outside verifier of the audit log (audit-log-verifier.ts) over the audit service's
// gRPC API, with its state in files: tools/audit/verify-log.ts, npm start and
// `npx vaxguard audit verify` run it. Checkpoints and proofs are read as the client
// application; the entries as an auditor (GetEntries needs an auditor's staff session).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServiceClient, type ServiceClient } from '@vaxguard/grpc-kit';
import { isVaxGuardError } from '@vaxguard/errors';
import { auditV1 } from '@vaxguard/proto';
import { HASH_SIZE } from '@vaxguard/tlog';
import {
  describeVerdict,
  verifyAuditLog,
  type AuditLogSource,
  type AuditLogVerdict,
  type ServedEntry,
  type VerifiedState,
} from './audit-log-verifier';
import { callAs, OperatorClient } from './operator-client';

type AuditClient = ServiceClient<typeof auditV1.AuditServiceService>;

/** Runs `use` with an auditor's staff session (signing in when it must). */
export type AuditorSession = <T>(use: (token: string) => Promise<T>) => Promise<T>;

/** GetEntries pages as large as the audit service serves (its MAX_ENTRIES_PAGE). */
const ENTRIES_PAGE = 1_000;

/** The audit service as the verifier's source of checkpoints, proofs and entries. */
export function grpcAuditLogSource(audit: AuditClient, asAuditor: AuditorSession): AuditLogSource {
  const page = (start: number, end: number) =>
    asAuditor(async (token) => {
      const entries: ServedEntry[] = [];
      let pageToken = '';
      do {
        const answer = await audit.call(
          'getEntries',
          { start: String(start), end: String(end), pageSize: ENTRIES_PAGE, pageToken },
          callAs(token, true),
        );
        for (const entry of answer.entries) {
          entries.push({ index: Number(entry.index), entry: entry.entry });
        }
        pageToken = answer.nextPageToken;
      } while (pageToken);
      return entries;
    });
  return {
    async signedCheckpoint() {
      return (await audit.call('getCheckpoint', {}, { idempotent: true })).signedCheckpoint;
    },
    async consistencyProof(oldSize, newSize) {
      const proof = await audit.call(
        'getConsistencyProof',
        { oldSize: String(oldSize), newSize: String(newSize) },
        { idempotent: true },
      );
      return proof.hashes;
    },
    async inclusionProof(index, treeSize) {
      const proof = await audit.call(
        'getInclusionProof',
        { index: String(index), treeSize: String(treeSize) },
        { idempotent: true },
      );
      return proof.hashes;
    },
    async entries(start, end) {
      if (start >= end) return [];
      try {
        return await page(start, end);
      } catch (error) {
        // A log whose head fell below its signed checkpoint refuses a range past its
        // end: what it still serves is read, and the rest counts as missing.
        if (!isVaxGuardError(error) || error.code !== 'OUT_OF_RANGE') throw error;
        try {
          return (await page(start, 0)).filter((entry) => entry.index < end);
        } catch (again) {
          if (isVaxGuardError(again) && again.code === 'OUT_OF_RANGE') return [];
          throw again;
        }
      }
    },
  };
}

/**
 * The state file holds the last verified signed checkpoint as the log served it (a note
 * anyone can check with the key); `<state file>.leaves` holds the leaf hash of every
 * entry it covers, 32 bytes each, in index order.
 */
export function readVerifiedState(stateFile: string): VerifiedState | undefined {
  if (!existsSync(stateFile)) return undefined;
  const signedCheckpoint = readFileSync(stateFile, 'utf8');
  const leavesFile = `${stateFile}.leaves`;
  if (!existsSync(leavesFile)) return { signedCheckpoint };
  const bytes = readFileSync(leavesFile);
  if (bytes.length % HASH_SIZE !== 0) return { signedCheckpoint };
  const leafHashes = Array.from({ length: bytes.length / HASH_SIZE }, (_, i) =>
    Uint8Array.from(bytes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)),
  );
  return { signedCheckpoint, leafHashes };
}

/** Keeps a verified state: the leaves first, then the note, each replaced whole. */
export function writeVerifiedState(stateFile: string, state: VerifiedState): void {
  const leavesFile = `${stateFile}.leaves`;
  if (state.leafHashes) {
    writeFileSync(`${leavesFile}.new`, Buffer.concat(state.leafHashes.map((h) => Buffer.from(h))));
    renameSync(`${leavesFile}.new`, leavesFile);
  } else {
    rmSync(leavesFile, { force: true });
  }
  writeFileSync(`${stateFile}.new`, state.signedCheckpoint);
  renameSync(`${stateFile}.new`, stateFile);
}

/** Who reads the entries: a staff session of an auditor, or how to sign one in. */
export type AuditorCredentials =
  | { readonly session: string }
  | {
      readonly username: string;
      readonly password: string;
      /** Sign-in asks identity, then confirms the STAFF_LOGIN code with OTP. */
      readonly identityAddress: string;
      readonly otpAddress: string;
      /** The development SMS inbox the STAFF_LOGIN code reaches. */
      readonly smsInbox: string;
    };

export interface WitnessOptions {
  /** The audit service's gRPC address. */
  readonly address: string;
  readonly verifierKey: string;
  /** Witnesses whose cosignatures the checkpoint must carry. */
  readonly witnessKeys?: readonly string[];
  /** Where the last verified state is kept (and `<file>.leaves` beside it). */
  readonly stateFile: string;
  /** The client application the calls are made as. */
  readonly clientId: string;
  readonly clientSecret: string;
  readonly auditor: AuditorCredentials;
  /** Download every entry, not only those new since the saved state. */
  readonly full?: boolean;
}

/** The log failed a check (npm start's summary reports it as a failure). */
export class AuditLogCheckError extends Error {
  override readonly name = 'AuditLogCheckError';
}

/**
 * One round of the outside verifier over gRPC, with the state in `stateFile`, moved
 * forward only when the log verified. A log that fails a check is the verdict; an
 * unreachable log, a refused session or a damaged state throws.
 */
export async function witnessCheckpoint(options: WitnessOptions): Promise<AuditLogVerdict> {
  const client = { clientId: options.clientId, secret: options.clientSecret };
  const audit = createServiceClient(auditV1.AuditServiceService, {
    address: options.address,
    ...client,
    deadlineMs: 15_000,
  });
  const { auditor } = options;
  const operator =
    'session' in auditor
      ? undefined
      : new OperatorClient({
          services: { identity: auditor.identityAddress, otp: auditor.otpAddress },
          client: { id: options.clientId, secret: options.clientSecret },
          smsInbox: auditor.smsInbox,
        });
  let session = 'session' in auditor ? auditor.session : undefined;
  const asAuditor: AuditorSession = async (use) => {
    if (session === undefined && operator && !('session' in auditor)) {
      session = (await operator.staffSignIn(auditor.username, auditor.password)).token;
    }
    return use(session as string);
  };
  try {
    const previous = readVerifiedState(options.stateFile);
    const verdict = await verifyAuditLog({
      source: grpcAuditLogSource(audit, asAuditor),
      verifierKey: options.verifierKey,
      ...(options.witnessKeys ? { witnessKeys: options.witnessKeys } : {}),
      ...(previous ? { previous } : {}),
      ...(options.full ? { full: true } : {}),
    });
    if (verdict.outcome === 'verified') writeVerifiedState(options.stateFile, verdict.state);
    return verdict;
  } finally {
    audit.close();
    operator?.close();
  }
}

/** One round; the lines it found. Throws AuditLogCheckError when the log failed a check. */
export async function witnessAuditLog(options: WitnessOptions): Promise<string[]> {
  const verdict = await witnessCheckpoint(options);
  if (verdict.outcome === 'tampered') {
    throw new AuditLogCheckError(`${verdict.tampering.kind}: ${verdict.tampering.description}`);
  }
  return describeVerdict(verdict, options.stateFile);
}
