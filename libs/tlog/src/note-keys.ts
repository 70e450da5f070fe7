import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { encodeBase64, hex8 } from './encoding';
import { NoteKeyError } from './errors';
import {
  ED25519,
  ED25519_KEY_SIZE,
  ED25519_SIGNATURE_SIZE,
  isValidKeyName,
  keyIdPreimage,
  parseVerifierKeyParts,
} from './note-text';

export { decodeBase64Strict, hex8, isWellFormed } from './encoding';
export { isValidKeyName } from './note-text';

/** The signature type of c2sp.org/tlog-cosignature's cosignature/v1 (Ed25519 too). */
export const COSIGNATURE_V1 = 0x04;
// DER wrappers that turn a raw Ed25519 seed or public key into what node:crypto reads.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PRIVATE_KEY_PREFIX = 'PRIVATE+KEY+';

/** Checks a note signature from one key: what openNote needs of a trusted key. */
export interface NoteVerifier {
  readonly name: string;
  /** The 32-bit key ID in the signature line, as an unsigned number. */
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** Signs note text with one key. The private key stays inside the object. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  /** The verifier key string an auditor needs, `<name>+<hex key ID>+<base64 key>`. */
  readonly verifierKey: string;
  sign(text: Uint8Array): Uint8Array;
}

/** SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4], big-endian: the Ed25519 key ID. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  return keyIdOf(name, ED25519, publicKey);
}

/** SHA-256(name ‖ "\n" ‖ signature type ‖ public key)[:4], big-endian (c2sp.org/signed-note). */
export function keyIdOf(name: string, signatureType: number, publicKey: Uint8Array): number {
  return createHash('sha256')
    .update(keyIdPreimage(name, signatureType, publicKey))
    .digest()
    .readUInt32BE(0);
}

/** Encodes the verifier key `<name>+<8 hex key ID>+<base64(0x01 ‖ public key)>`. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  return formatTypedVerifierKey(name, ED25519, publicKey);
}

/** `<name>+<8 hex key ID>+<base64(signature type ‖ public key)>` of an Ed25519 public key. */
export function formatTypedVerifierKey(
  name: string,
  signatureType: number,
  publicKey: Uint8Array,
): string {
  if (!isValidKeyName(name)) throw new NoteKeyError(`invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== ED25519_KEY_SIZE) {
    throw new NoteKeyError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  }
  const key = encodeBase64(Uint8Array.of(signatureType, ...publicKey));
  return `${name}+${hex8(keyIdOf(name, signatureType, publicKey))}+${key}`;
}

/** Reads a verifier key string; refuses any malformed part, other algorithm or wrong key ID. */
export function parseVerifierKey(verifierKey: string): NoteVerifier {
  const { name, keyId, publicKey } = parseTypedVerifierKey(verifierKey, ED25519);
  return {
    name,
    keyId,
    verify: (text, signature) =>
      signature.length === ED25519_SIGNATURE_SIZE && verify(null, text, publicKey, signature),
  };
}

/**
 * Reads a verifier key string of one signature type (an Ed25519 key in every type this
 * library knows), refusing any malformed part, another type or a wrong key ID.
 */
export function parseTypedVerifierKey(
  verifierKey: string,
  signatureType: number,
): { name: string; keyId: number; publicKey: KeyObject } {
  const { name, keyId, publicKey } = parseVerifierKeyParts(verifierKey, signatureType);
  if (keyIdOf(name, signatureType, publicKey) !== keyId) {
    throw new NoteKeyError(`the key ID of ${name} does not match its key`);
  }
  const keyObject = createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
    format: 'der',
    type: 'spki',
  });
  return { name, keyId, publicKey: keyObject };
}

/** Reads a signer key `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 ‖ seed)>`. */
export function parseSignerKey(signerKey: string): NoteSigner {
  // The message never repeats the key: it is a secret.
  if (!signerKey.startsWith(PRIVATE_KEY_PREFIX)) {
    throw new NoteKeyError('a signer key starts with PRIVATE+KEY+');
  }
  const parts = parseVerifierKeyParts(
    signerKey.slice(PRIVATE_KEY_PREFIX.length),
    ED25519,
    'signer',
  );
  const { name, publicKey: seed } = parts;
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = rawPublicKey(privateKey);
  const keyId = ed25519KeyId(name, publicKey);
  if (keyId !== parts.keyId) {
    throw new NoteKeyError(`the key ID of ${name} does not match its key`);
  }
  return {
    name,
    keyId,
    verifierKey: formatVerifierKey(name, publicKey),
    sign: (text) => new Uint8Array(sign(null, text, privateKey)),
  };
}

/** A new Ed25519 key pair as the two strings golang.org/x/mod/sumdb/note uses. */
export function generateSignerKey(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) throw new NoteKeyError(`invalid key name ${JSON.stringify(name)}`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const publicKey = rawPublicKey(privateKey);
  const encodedSeed = Buffer.concat([Uint8Array.of(ED25519), seed]).toString('base64');
  return {
    signerKey: `${PRIVATE_KEY_PREFIX}${name}+${hex8(ed25519KeyId(name, publicKey))}+${encodedSeed}`,
    verifierKey: formatVerifierKey(name, publicKey),
  };
}

export function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(SPKI_ED25519_PREFIX.length));
}
