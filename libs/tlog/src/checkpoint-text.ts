import { decodeBase64Strict, encodeBase64 } from './encoding';
import { MalformedCheckpointError } from './errors';
import { isValidNoteText } from './note-text';
import { HASH_SIZE } from './proof-paths';

// The checkpoint body (c2sp.org/tlog-checkpoint) as text, with no cryptography: shared by
// the node code (checkpoint.ts) and the browser's verifier (web-verifier.ts).

/** A log's signed statement of its size and root hash (c2sp.org/tlog-checkpoint). */
export interface Checkpoint {
  /** Names the log; by convention also the name of the key that signs it. */
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** Opaque extra lines; C2SP advises against them, as monitors cannot audit them. */
  readonly extensions?: readonly string[];
}

const SIZE_PATTERN = /^(?:0|[1-9][0-9]*)$/;

/** The checkpoint note text: origin, decimal size, base64 root, extension lines, each ending in \n. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new MalformedCheckpointError(
      `tree size must be a non-negative safe integer, got ${size}`,
    );
  }
  if (rootHash.length !== HASH_SIZE) {
    throw new MalformedCheckpointError(`root hash must be ${HASH_SIZE} bytes`);
  }
  const lines = [origin, String(size), encodeBase64(rootHash), ...extensions];
  const text = lines.map((line) => `${line}\n`).join('');
  if (lines.some((line) => line === '' || line.includes('\n')) || !isValidNoteText(text)) {
    throw new MalformedCheckpointError('checkpoint lines must be non-empty single lines of text');
  }
  return text;
}

/** Reads a checkpoint note text, refusing anything but the exact C2SP form. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!isValidNoteText(text)) {
    throw new MalformedCheckpointError('a checkpoint is text lines, each ending in a newline');
  }
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) {
    throw new MalformedCheckpointError('a checkpoint has origin, size and root hash lines');
  }
  if (lines.some((line) => line === '')) {
    throw new MalformedCheckpointError('checkpoint lines are never empty');
  }
  const size = Number(sizeLine);
  if (!SIZE_PATTERN.test(sizeLine) || !Number.isSafeInteger(size)) {
    throw new MalformedCheckpointError(
      `tree size ${JSON.stringify(sizeLine)} is not a decimal size`,
    );
  }
  const rootHash = decodeBase64Strict(rootLine);
  if (rootHash?.length !== HASH_SIZE) {
    throw new MalformedCheckpointError('the root hash line is not a base64 SHA-256 hash');
  }
  return extensions.length === 0
    ? { origin, size, rootHash }
    : { origin, size, rootHash, extensions };
}
