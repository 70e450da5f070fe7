import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { KeyEncryptionKey, KeyProvider, Vault } from '../domain/model';

/**
 * Envelope encryption: each value is sealed with AES-256-GCM under its own fresh data key
 * (DEK); the DEK is wrapped with AES-256-GCM under the key-encryption key (KEK). Rotating
 * the KEK re-wraps 60 bytes per record and leaves every ciphertext as it was.
 *
 * A sealed record, version 1, all lengths in bytes:
 *
 *   version (1) | kekId length (1) | kekId (ASCII) | wrappedDek (60: iv 12, DEK 32, tag 16)
 *   | iv (12) | tag (16) | ciphertext (the plaintext's length)
 *
 * The value's associated data is the caller's (its row and purpose) under a versioned
 * prefix; the DEK's is the KEK id, so a wrapped key does not open under another id.
 */
export const VAULT_RECORD_VERSION = 1;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const WRAPPED_DEK_BYTES = IV_BYTES + KEY_BYTES + TAG_BYTES;
const KEK_ID = /^[A-Za-z0-9._-]{1,64}$/;
const PREFIX = `vaxguard/identity/vault/v${VAULT_RECORD_VERSION}`;

/** A sealed record's parts. */
export interface SealedRecord {
  readonly version: number;
  readonly kekId: string;
  readonly wrappedDek: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/** A record that cannot be opened or re-wrapped. Never carries key or plaintext bytes. */
export class VaultError extends Error {
  override readonly name = 'VaultError';
}

export function encodeSealedRecord(record: SealedRecord): Buffer {
  if (!KEK_ID.test(record.kekId)) {
    throw new VaultError('key-encryption key ids are 1 to 64 of A-Z a-z 0-9 . _ -');
  }
  const kekId = Buffer.from(record.kekId, 'ascii');
  return Buffer.concat([
    Buffer.from([record.version, kekId.length]),
    kekId,
    record.wrappedDek,
    record.iv,
    record.tag,
    record.ciphertext,
  ]);
}

export function decodeSealedRecord(sealed: Buffer): SealedRecord {
  const version = sealed[0];
  if (version !== VAULT_RECORD_VERSION) {
    throw new VaultError(`not a sealed record of version ${VAULT_RECORD_VERSION}`);
  }
  const idLength = sealed[1] ?? 0;
  let at = 2;
  const take = (length: number) => sealed.subarray(at, (at += length));
  if (sealed.length < at + idLength + WRAPPED_DEK_BYTES + IV_BYTES + TAG_BYTES) {
    throw new VaultError('sealed record is truncated');
  }
  const kekId = take(idLength).toString('ascii');
  if (!KEK_ID.test(kekId)) throw new VaultError('sealed record names no valid key id');
  return {
    version,
    kekId,
    wrappedDek: take(WRAPPED_DEK_BYTES),
    iv: take(IV_BYTES),
    tag: take(TAG_BYTES),
    ciphertext: sealed.subarray(at),
  };
}

/** The id of the KEK a record's data key is wrapped under: what a rotation job compares. */
export function sealedKeyId(sealed: Buffer): string {
  return decodeSealedRecord(sealed).kekId;
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string) {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

function gcmOpen(key: Buffer, parts: { iv: Buffer; ciphertext: Buffer; tag: Buffer }, aad: string) {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, parts.iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(parts.tag);
    return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch (cause) {
    throw new VaultError(
      'sealed record does not open: another key or associated data, or it was altered',
      { cause },
    );
  }
}

/** The key that wraps DEKs, derived from the KEK so it serves no other purpose. */
function wrappingKey(kek: KeyEncryptionKey): Buffer {
  if (kek.key.length !== KEY_BYTES) {
    throw new VaultError(`key-encryption key ${kek.id} must be ${KEY_BYTES} bytes`);
  }
  return Buffer.from(hkdfSync('sha256', kek.key, Buffer.alloc(0), `${PREFIX}/dek-wrap`, KEY_BYTES));
}

function wrapDek(kek: KeyEncryptionKey, dek: Buffer): Buffer {
  const { iv, ciphertext, tag } = gcmSeal(wrappingKey(kek), dek, `${PREFIX}:dek:${kek.id}`);
  return Buffer.concat([iv, ciphertext, tag]);
}

function unwrapDek(kek: KeyEncryptionKey, wrappedDek: Buffer): Buffer {
  return gcmOpen(
    wrappingKey(kek),
    {
      iv: wrappedDek.subarray(0, IV_BYTES),
      ciphertext: wrappedDek.subarray(IV_BYTES, IV_BYTES + KEY_BYTES),
      tag: wrappedDek.subarray(IV_BYTES + KEY_BYTES),
    },
    `${PREFIX}:dek:${kek.id}`,
  );
}

const dataAad = (associatedData: string) => `${PREFIX}:data:${associatedData}`;

export class EnvelopeVault implements Vault {
  constructor(private readonly keys: KeyProvider) {}

  async seal(plaintext: Buffer, associatedData: string): Promise<Buffer> {
    const kek = await this.keys.current();
    const dek = randomBytes(KEY_BYTES);
    try {
      const { iv, ciphertext, tag } = gcmSeal(dek, plaintext, dataAad(associatedData));
      return encodeSealedRecord({
        version: VAULT_RECORD_VERSION,
        kekId: kek.id,
        wrappedDek: wrapDek(kek, dek),
        iv,
        tag,
        ciphertext,
      });
    } finally {
      dek.fill(0);
    }
  }

  async open(sealed: Buffer, associatedData: string): Promise<Buffer> {
    const record = decodeSealedRecord(sealed);
    const dek = unwrapDek(await this.kek(record.kekId), record.wrappedDek);
    try {
      return gcmOpen(dek, record, dataAad(associatedData));
    } finally {
      dek.fill(0);
    }
  }

  async rewrap(sealed: Buffer): Promise<Buffer> {
    const record = decodeSealedRecord(sealed);
    const current = await this.keys.current();
    if (record.kekId === current.id) return sealed;
    const dek = unwrapDek(await this.kek(record.kekId), record.wrappedDek);
    try {
      return encodeSealedRecord({
        ...record,
        kekId: current.id,
        wrappedDek: wrapDek(current, dek),
      });
    } finally {
      dek.fill(0);
    }
  }

  private async kek(id: string): Promise<KeyEncryptionKey> {
    const kek = await this.keys.byId(id);
    if (!kek) {
      throw new VaultError(
        `sealed under key-encryption key ${id}, which the key provider does not hold`,
      );
    }
    return kek;
  }
}
