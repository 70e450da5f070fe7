import {
  MalformedNoteError,
  InvalidSignatureError,
  NoteKeyError,
  UnverifiedNoteError,
} from './errors';
import {
  decodeBase64Strict,
  hex8,
  isValidKeyName,
  isWellFormed,
  type NoteSigner,
  type NoteVerifier,
} from './note-keys';

// c2sp.org/signed-note: text, a blank line, then lines "— <name> <base64(key ID ‖ sig)>".
const SIGNATURE_PREFIX = '\u2014 ';
// The spec asks verifiers to accept at least 16; golang.org/x/mod/sumdb/note stops at 100.
export const MAX_NOTE_SIGNATURES = 100;

/** A signature line's key, by name and 32-bit key ID. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
}

export interface OpenedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  /** The trusted keys whose signatures verified, in note order. */
  readonly verifiedBy: readonly NoteSignature[];
  /** Signatures from keys the caller does not know: ignored, listed for logs. */
  readonly unknownSignatures: readonly NoteSignature[];
}

/** Note text: well-formed, no control character but newline, ending in a newline. */
export function isValidNoteText(text: string): boolean {
  return text.endsWith('\n') && isWellFormed(text) && !hasControlCharacter(text);
}

/** Any ASCII control character but newline: the only ones a note may not hold. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return true;
  }
  return false;
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
  const message = typeof note === 'string' ? note : decodeUtf8(note);
  if (!isWellFormed(message) || hasControlCharacter(message)) {
    throw new MalformedNoteError('a note is UTF-8 with no control character but newline');
  }
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new MalformedNoteError('a note has a blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) {
    throw new MalformedNoteError('a note ends with signature lines, each ending in a newline');
  }
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw new MalformedNoteError(`a note holds at most ${MAX_NOTE_SIGNATURES} signatures`);
  }
  const trusted = indexVerifiers(verifiers);
  const signedText = Buffer.from(text, 'utf8');
  const verifiedBy: NoteSignature[] = [];
  const unknownSignatures: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    const { name, keyId, signature } = parseSignatureLine(line);
    const key = `${name}+${hex8(keyId)}`;
    const verifier = trusted.get(key);
    // Repeats of one key's signature are dropped, as golang.org/x/mod/sumdb/note does.
    if (seen.has(key)) continue;
    seen.add(key);
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

function parseSignatureLine(line: string): NoteSignature & { signature: Uint8Array } {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new MalformedNoteError('a signature line starts with an em dash and a space');
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const raw = space < 0 ? undefined : decodeBase64Strict(rest.slice(space + 1));
  if (!isValidKeyName(name) || raw === undefined || raw.length < 5) {
    throw new MalformedNoteError('a signature line is "— <key name> <base64 signature>"');
  }
  const bytes = Buffer.from(raw);
  return { name, keyId: bytes.readUInt32BE(0), signature: raw.subarray(4) };
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

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new MalformedNoteError('a note is UTF-8', { cause });
  }
}
