import { MalformedNoteError, NoteKeyError } from './errors';
import { decodeBase64Strict, isWellFormed, readUint32 } from './encoding';

// The parts of c2sp.org/signed-note that need no cryptography: reading a note into its
// text and signature lines, and a verifier key into its parts. The node verifier
// (signed-note.ts, note-keys.ts) and the browser's (web-verifier.ts) share them.

/** A signature line's key, by name and 32-bit key ID. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
}

/** A signature line: the key's name and ID and the signature bytes. */
export interface NoteSignatureLine extends NoteSignature {
  readonly signature: Uint8Array;
}

/** A note read, signatures not yet checked. */
export interface ParsedNote {
  /** The signed text, final newline included. */
  readonly text: string;
  readonly signatures: readonly NoteSignatureLine[];
}

// c2sp.org/signed-note: text, a blank line, then lines "— <name> <base64(key ID ‖ sig)>".
export const SIGNATURE_PREFIX = '\u2014 ';
// The spec asks verifiers to accept at least 16; golang.org/x/mod/sumdb/note stops at 100.
export const MAX_NOTE_SIGNATURES = 100;
/** The c2sp.org/signed-note signature type of Ed25519 keys. */
export const ED25519 = 0x01;
export const ED25519_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

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

/**
 * Reads a signed note into its text and signature lines, refusing anything that breaks
 * the format (MalformedNoteError). Repeats of one key's signature are dropped, as
 * golang.org/x/mod/sumdb/note does. Nothing is verified here.
 */
export function parseNote(note: string | Uint8Array): ParsedNote {
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
  const seen = new Set<string>();
  const signatures: NoteSignatureLine[] = [];
  for (const line of lines) {
    const signature = parseSignatureLine(line);
    const key = `${signature.name}+${signature.keyId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    signatures.push(signature);
  }
  return { text, signatures };
}

function parseSignatureLine(line: string): NoteSignatureLine {
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
  return { name, keyId: readUint32(raw), signature: raw.subarray(4) };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new MalformedNoteError('a note is UTF-8', { cause });
  }
}

/**
 * Key names are non-empty, with no Unicode space and no plus (c2sp.org/signed-note);
 * golang.org/x/mod/sumdb/note checks the same with unicode.IsSpace, the White_Space set.
 */
export function isValidKeyName(name: string): boolean {
  return name !== '' && isWellFormed(name) && !/[\p{White_Space}+]/u.test(name);
}

/** A verifier key's parts; its key ID is not yet checked against the key (that hashes). */
export interface VerifierKeyParts {
  readonly name: string;
  readonly keyId: number;
  /** The raw Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/**
 * Reads `<name>+<8 hex key ID>+<base64(signature type ‖ key)>` for one signature type
 * (an Ed25519 key in every type this library knows), refusing any malformed part or
 * another type (NoteKeyError).
 */
export function parseVerifierKeyParts(
  verifierKey: string,
  signatureType: number,
  kind: 'verifier' | 'signer' = 'verifier',
): VerifierKeyParts {
  const [name, keyIdHex, keyBase64] = splitKey(verifierKey);
  if (!isValidKeyName(name)) throw new NoteKeyError(`invalid key name in ${kind} key`);
  if (!/^[0-9a-fA-F]{8}$/.test(keyIdHex)) {
    throw new NoteKeyError(`the key ID of a ${kind} key is 8 hex digits`);
  }
  const raw = decodeBase64Strict(keyBase64);
  if (raw === undefined || raw.length === 0) {
    throw new NoteKeyError(`the key of a ${kind} key is not base64`);
  }
  if (raw[0] !== signatureType) {
    throw new NoteKeyError(`signature type ${raw[0]} in ${kind} key, expected ${signatureType}`);
  }
  if (raw.length !== 1 + ED25519_KEY_SIZE) {
    throw new NoteKeyError(`an Ed25519 ${kind} key holds 32 bytes, got ${raw.length - 1}`);
  }
  return { name, keyId: Number.parseInt(keyIdHex, 16), publicKey: raw.subarray(1) };
}

/** The bytes SHA-256 hashes for a key ID: name ‖ "\n" ‖ signature type ‖ public key. */
export function keyIdPreimage(
  name: string,
  signatureType: number,
  publicKey: Uint8Array,
): Uint8Array {
  const nameBytes = new TextEncoder().encode(`${name}\n`);
  const preimage = new Uint8Array(nameBytes.length + 1 + publicKey.length);
  preimage.set(nameBytes);
  preimage[nameBytes.length] = signatureType;
  preimage.set(publicKey, nameBytes.length + 1);
  return preimage;
}

/** name+keyID+key, cut at the first two pluses only: base64 has pluses of its own. */
function splitKey(key: string): [string, string, string] {
  const first = key.indexOf('+');
  const second = key.indexOf('+', first + 1);
  if (first < 0 || second < 0) throw new NoteKeyError('a key is <name>+<key ID>+<key>');
  return [key.slice(0, first), key.slice(first + 1, second), key.slice(second + 1)];
}
