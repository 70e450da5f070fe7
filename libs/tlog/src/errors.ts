/**
 * The named errors of @vaxguard/tlog. Each carries a stable `reason` that an adapter
 * (the audit service's gRPC boundary) can map to its own error model; the library
 * stays free of transport code so an outside auditor can run it alone.
 *
 * A proof that does not prove its claim is not an error: verifyInclusion and
 * verifyConsistency return false. Errors are for inputs that cannot be a tree
 * position at all, malformed text, bad keys and a store that breaks its contract.
 */
export abstract class TlogError extends Error {
  abstract readonly reason: string;
}

/** A leaf index, tree size or pair of sizes that names no position in the tree. */
export class TreeRangeError extends TlogError {
  override readonly name = 'TreeRangeError';
  readonly reason = 'TLOG_TREE_RANGE';
}

/** A hash that is not 32 bytes where a SHA-256 hash must be. */
export class HashLengthError extends TlogError {
  override readonly name = 'HashLengthError';
  readonly reason = 'TLOG_HASH_LENGTH';
}

/** The node reader returned a different number of hashes than it was asked for. */
export class NodeReaderError extends TlogError {
  override readonly name = 'NodeReaderError';
  readonly reason = 'TLOG_NODE_READER';
}

/** A checkpoint body that is not exactly origin, size, root hash and extension lines. */
export class MalformedCheckpointError extends TlogError {
  override readonly name = 'MalformedCheckpointError';
  readonly reason = 'TLOG_MALFORMED_CHECKPOINT';
}

/** A signed checkpoint whose origin is not the log the verifier expects. */
export class CheckpointOriginError extends TlogError {
  override readonly name = 'CheckpointOriginError';
  readonly reason = 'TLOG_CHECKPOINT_ORIGIN';
}

/** A signed note that breaks the c2sp.org/signed-note format. */
export class MalformedNoteError extends TlogError {
  override readonly name = 'MalformedNoteError';
  readonly reason = 'TLOG_MALFORMED_NOTE';
}

/** A verifier or signer key string that cannot be used (format, algorithm, key hash). */
export class NoteKeyError extends TlogError {
  override readonly name = 'NoteKeyError';
  readonly reason = 'TLOG_NOTE_KEY';
}

/** A signature from a known key that does not verify: the whole note is rejected. */
export class InvalidSignatureError extends TlogError {
  override readonly name = 'InvalidSignatureError';
  readonly reason = 'TLOG_INVALID_SIGNATURE';
}

/** A well-formed note that no trusted key has signed. */
export class UnverifiedNoteError extends TlogError {
  override readonly name = 'UnverifiedNoteError';
  readonly reason = 'TLOG_UNVERIFIED_NOTE';
}

/** An inclusion or consistency proof that does not hold against a verified checkpoint. */
export class ProofVerificationError extends TlogError {
  override readonly name = 'ProofVerificationError';
  readonly reason = 'TLOG_PROOF_FAILED';
}

/** A tile path or an entry bundle that breaks the c2sp.org/tlog-tiles format. */
export class MalformedTileError extends TlogError {
  override readonly name = 'MalformedTileError';
  readonly reason = 'TLOG_MALFORMED_TILE';
}
