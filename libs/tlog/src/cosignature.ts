// c2sp.org/tlog-cosignature: a witness's cosignature/v1 on a checkpoint. It is a
// signed-note signature line (type 0x04) whose signature is an 8-byte big-endian UNIX
// time followed by an Ed25519 signature over
//
//     cosignature/v1
//     time <decimal seconds>
//     <checkpoint text>
//
// so a witness states when it saw the checkpoint as consistent with all it saw before.
// Cosignature lines go after the log's own signature in the same note; openCheckpoint
// with the log's key ignores them, verifyCosignatures with the witnesses' keys reads them.
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { formatCheckpoint, parseCheckpoint } from './checkpoint';
import { MalformedCheckpointError, MalformedNoteError } from './errors';
import {
  COSIGNATURE_V1,
  formatTypedVerifierKey,
  hex8,
  keyIdOf,
  parseTypedVerifierKey,
  rawPublicKey,
  type NoteSigner,
  type NoteVerifier,
} from './note-keys';
import { openNote, type NoteSignature } from './signed-note';

const TIMESTAMP_SIZE = 8;
const ED25519_SIGNATURE_SIZE = 64;

/** A verified cosignature: which witness key, and when (UNIX seconds) it cosigned. */
export interface Cosignature extends NoteSignature {
  readonly timestamp: number;
}

/** The bytes a cosignature/v1 signs: its header lines, then the checkpoint text. */
export function cosignedMessage(timestamp: number, checkpointText: string): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new MalformedNoteError(`a cosignature time is a non-negative integer, got ${timestamp}`);
  }
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/** A witness's verifier key for its Ed25519 public key: `<name>+<key ID>+<base64(0x04 ‖ key)>`. */
export function formatCosignatureVerifierKey(name: string, publicKey: Uint8Array): string {
  return formatTypedVerifierKey(name, COSIGNATURE_V1, publicKey);
}

/**
 * Reads a witness's verifier key (`<name>+<key ID>+<base64(0x04 ‖ Ed25519 key)>`, as
 * litewitness prints it). The verifier accepts only a cosignature on text that is
 * exactly a checkpoint, as the spec and torchwood require.
 */
export function parseCosignatureVerifierKey(verifierKey: string): NoteVerifier {
  const { name, keyId, publicKey } = parseTypedVerifierKey(verifierKey, COSIGNATURE_V1);
  return {
    name,
    keyId,
    verify(text, signature) {
      if (signature.length !== TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE) return false;
      const timestamp = timestampOf(signature);
      const checkpointText = checkpointTextOf(text);
      if (timestamp === undefined || checkpointText === undefined) return false;
      return verify(
        null,
        cosignedMessage(timestamp, checkpointText),
        publicKey,
        signature.subarray(TIMESTAMP_SIZE),
      );
    },
  };
}

/**
 * A cosigner, for tests and fakes of a witness: signs checkpoints with cosignature/v1
 * at `now()` (UNIX seconds; the wall clock by default). A new key unless one is given.
 */
export function createCosignatureSigner(
  name: string,
  options: { privateKey?: KeyObject; now?: () => number } = {},
): NoteSigner {
  const privateKey = options.privateKey ?? generateKeyPairSync('ed25519').privateKey;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const publicKey = rawPublicKey(privateKey);
  return {
    name,
    keyId: keyIdOf(name, COSIGNATURE_V1, publicKey),
    verifierKey: formatCosignatureVerifierKey(name, publicKey),
    sign(text) {
      const checkpointText = checkpointTextOf(text);
      if (checkpointText === undefined) {
        throw new MalformedCheckpointError('a cosignature is on a checkpoint');
      }
      const timestamp = now();
      const header = Buffer.alloc(TIMESTAMP_SIZE);
      header.writeBigUInt64BE(BigInt(timestamp));
      const signature = sign(null, cosignedMessage(timestamp, checkpointText), privateKey);
      return new Uint8Array(Buffer.concat([header, signature]));
    },
  };
}

/**
 * The cosignatures of trusted witnesses on a signed checkpoint, each with its time.
 * Signatures of other keys (the log's own among them) are ignored; a trusted witness's
 * signature that does not verify rejects the note (InvalidSignatureError), and a note
 * no trusted witness cosigned is rejected (UnverifiedNoteError), as openNote does.
 */
export function verifyCosignatures(
  signedCheckpoint: string | Uint8Array,
  witnesses: readonly NoteVerifier[],
): Cosignature[] {
  const timestamps = new Map<string, number>();
  const recording = witnesses.map((witness): NoteVerifier => ({
    name: witness.name,
    keyId: witness.keyId,
    verify(text, signature) {
      const verified = witness.verify(text, signature);
      const timestamp = timestampOf(signature);
      if (verified && timestamp !== undefined) {
        timestamps.set(`${witness.name}+${hex8(witness.keyId)}`, timestamp);
      }
      return verified;
    },
  }));
  const note = openNote(signedCheckpoint, recording);
  parseCheckpoint(note.text);
  return note.verifiedBy.map((signature) => ({
    ...signature,
    timestamp: timestamps.get(`${signature.name}+${hex8(signature.keyId)}`) as number,
  }));
}

/** The big-endian time in front of a cosignature, or undefined past 2^53 seconds. */
function timestampOf(signature: Uint8Array): number | undefined {
  if (signature.length < TIMESTAMP_SIZE) return undefined;
  const timestamp = Buffer.from(signature).readBigUInt64BE(0);
  return timestamp <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(timestamp) : undefined;
}

/** The text if it is exactly a checkpoint (parsed and formatted back unchanged). */
function checkpointTextOf(text: Uint8Array): string | undefined {
  const decoded = Buffer.from(text).toString('utf8');
  try {
    return formatCheckpoint(parseCheckpoint(decoded)) === decoded ? decoded : undefined;
  } catch {
    return undefined;
  }
}
