import { type Checkpoint, parseCheckpoint, formatCheckpoint } from './checkpoint-text';
import { CheckpointOriginError } from './errors';
import { type NoteSigner, type NoteVerifier } from './note-keys';
import { openNote, signNote, type NoteSignature } from './signed-note';

export { formatCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint-text';

/** Signs a checkpoint: the signed note an auditor fetches. */
export function signCheckpoint(checkpoint: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(checkpoint), signers);
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly verifiedBy: readonly NoteSignature[];
}

/**
 * Opens a signed checkpoint with trusted keys and reads its body. When `origin` is given
 * the checkpoint must name that log: a valid signature on another log's checkpoint by
 * a shared key proves nothing about this one.
 */
export function openCheckpoint(
  signedCheckpoint: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  origin?: string,
): OpenedCheckpoint {
  const note = openNote(signedCheckpoint, verifiers);
  const checkpoint = parseCheckpoint(note.text);
  if (origin !== undefined && checkpoint.origin !== origin) {
    throw new CheckpointOriginError(
      `checkpoint is from ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(origin)}`,
    );
  }
  return { checkpoint, verifiedBy: note.verifiedBy };
}
