import { type Checkpoint, openCheckpoint } from './checkpoint';
import { ProofVerificationError } from './errors';
import { parseVerifierKey } from './note-keys';
import { verifyConsistency, verifyInclusion } from './verify';

/** What an outside auditor checks, holding only the log's public verifier key. */
export interface AuditRequest {
  /** The log's verifier key, `<name>+<key ID>+<base64 key>`: the only trust anchor. */
  readonly verifierKey: string;
  readonly signedCheckpoint: string | Uint8Array;
  /** The log the checkpoint must name; the verifier key's name when left out. */
  readonly origin?: string;
  /** That the leaf with this hash is at this index of the checkpoint's tree. */
  readonly inclusion?: {
    readonly leafHash: Uint8Array;
    readonly index: number;
    readonly proof: readonly Uint8Array[];
  };
  /** That a checkpoint the auditor verified before is a prefix of this one. */
  readonly consistency?: {
    readonly previous: Pick<Checkpoint, 'size' | 'rootHash'>;
    readonly proof: readonly Uint8Array[];
  };
}

/**
 * Verifies a signed checkpoint with the log's public key, then the inclusion and
 * consistency proofs given against it. Returns the checkpoint, to keep for the next
 * consistency check; throws a named TlogError on the first thing that does not hold.
 */
export function auditCheckpoint(request: AuditRequest): Checkpoint {
  const verifier = parseVerifierKey(request.verifierKey);
  const { checkpoint } = openCheckpoint(
    request.signedCheckpoint,
    [verifier],
    request.origin ?? verifier.name,
  );
  const { inclusion, consistency } = request;
  if (
    inclusion !== undefined &&
    !verifyInclusion(
      inclusion.leafHash,
      inclusion.index,
      checkpoint.size,
      inclusion.proof,
      checkpoint.rootHash,
    )
  ) {
    throw new ProofVerificationError(
      `leaf ${inclusion.index} is not proven in the tree of size ${checkpoint.size}`,
    );
  }
  if (
    consistency !== undefined &&
    !verifyConsistency(
      consistency.previous.size,
      checkpoint.size,
      consistency.proof,
      consistency.previous.rootHash,
      checkpoint.rootHash,
    )
  ) {
    throw new ProofVerificationError(
      `the tree of size ${consistency.previous.size} is not proven a prefix of size ${checkpoint.size}`,
    );
  }
  return checkpoint;
}
