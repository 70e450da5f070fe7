// litewitness takes its Ed25519 key from an ssh-agent and names it by its OpenSSH
// fingerprint; its cosignatures verify with the same key as a cosignature/v1 verifier
// key. Both are read here from the OpenSSH public key line ssh-keygen writes.
import { createHash } from 'node:crypto';
import { formatCosignatureVerifierKey } from '@vaxguard/tlog';

const ED25519_KEY_TYPE = 'ssh-ed25519';
const ED25519_KEY_SIZE = 32;

export interface SshEd25519PublicKey {
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** `SHA256:<unpadded base64>`, as `ssh-keygen -l` prints it and litewitness -key takes it. */
  readonly fingerprint: string;
}

/** Reads `ssh-ed25519 <base64 wire blob> [comment]`, refusing any other key type. */
export function parseSshEd25519PublicKey(line: string): SshEd25519PublicKey {
  const [type, base64] = line.trim().split(/\s+/);
  if (type !== ED25519_KEY_TYPE || base64 === undefined) {
    throw new Error('not an OpenSSH ssh-ed25519 public key');
  }
  const blob = Buffer.from(base64, 'base64');
  // The wire form: string "ssh-ed25519", then string <32-byte key>, each length-prefixed.
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const typeName = blob.subarray(4, 4 + typeLength).toString('latin1');
  const keyAt = 4 + typeLength;
  const keyLength = blob.length >= keyAt + 4 ? blob.readUInt32BE(keyAt) : -1;
  if (
    typeName !== ED25519_KEY_TYPE ||
    keyLength !== ED25519_KEY_SIZE ||
    blob.length !== keyAt + 4 + ED25519_KEY_SIZE
  ) {
    throw new Error('malformed ssh-ed25519 public key');
  }
  const digest = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return {
    publicKey: new Uint8Array(blob.subarray(keyAt + 4)),
    fingerprint: `SHA256:${digest}`,
  };
}

/** The witness's cosignature/v1 verifier key, for its name and OpenSSH public key line. */
export function witnessVerifierKey(name: string, sshPublicKeyLine: string): string {
  return formatCosignatureVerifierKey(name, parseSshEd25519PublicKey(sshPublicKeyLine).publicKey);
}
