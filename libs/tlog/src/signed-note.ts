import {
  InvalidSignatureError,
  MalformedNoteError,
  NoteKeyError,
  UnverifiedNoteError,
} from './errors';
import { hex8 } from './encoding';
import { type NoteSigner, type NoteVerifier } from './note-keys';
import {
  isValidKeyName,
  isValidNoteText,
  parseNote,
  SIGNATURE_PREFIX,
  type NoteSignature,
} from './note-text';

export { isValidNoteText, MAX_NOTE_SIGNATURES, type NoteSignature } from './note-text';

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  /** The trusted keys whose signatures verified, in note order. */
  readonly verifiedBy: readonly NoteSignature[];
  /** Signatures from keys the caller does not know: ignored, listed for logs. */
  readonly unknownSignatures: readonly NoteSignature[];
}

/** Signs text with every signer, giving the signed note (c2sp.org/signed-note). */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!isValidNoteText(text)) {
    throw new MalformedNoteError('note text must end in a newline and hold no control character');
  }
  if (signers.length === 0) throw new NoteKeyError('a note needs at least one signer');
  const message = Buffer.from(text, 'utf8');
  const lines = signers.map((signer) => {
    if (!isValidKeyName(signer.name)) throw new NoteKeyError('invalid signer key name');
    const keyId = Buffer.alloc(4);
    keyId.writeUInt32BE(signer.keyId);
    const signature = Buffer.concat([keyId, signer.sign(message)]).toString('base64');
    return `${SIGNATURE_PREFIX}${signer.name} ${signature}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/**
 * Opens a signed note with the keys the caller trusts. Unknown keys are ignored; a
 * signature from a trusted key that fails rejects the whole note (InvalidSignatureError);
 * a note that no trusted key signed is rejected (UnverifiedNoteError); a note that breaks
 * the format is rejected (MalformedNoteError). Bytes are checked to be UTF-8 first.
 */
export function openNote(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
): OpenedNote {
  const { text, signatures } = parseNote(note);
  const trusted = indexVerifiers(verifiers);
  const signedText = new TextEncoder().encode(text);
  const verifiedBy: NoteSignature[] = [];
  const unknownSignatures: NoteSignature[] = [];
  for (const { name, keyId, signature } of signatures) {
    const key = `${name}+${hex8(keyId)}`;
    const verifier = trusted.get(key);
    if (verifier === undefined) {
      unknownSignatures.push({ name, keyId });
      continue;
    }
    if (!verifier.verify(signedText, signature)) {
      throw new InvalidSignatureError(`the signature of ${key} does not verify`);
    }
    verifiedBy.push({ name, keyId });
  }
  if (verifiedBy.length === 0) {
    throw new UnverifiedNoteError('no trusted key signed this note');
  }
  return { text, verifiedBy, unknownSignatures };
}

function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const byKey = new Map<string, NoteVerifier>();
  for (const verifier of verifiers) {
    const key = `${verifier.name}+${hex8(verifier.keyId)}`;
    if (byKey.has(key)) throw new NoteKeyError(`two trusted keys are both ${key}`);
    byKey.set(key, verifier);
  }
  return byKey;
}
