/**
 * Ports of the identity domain that adapters implement and tests fake. (The beneficiary
 * flows' own store and event types are beside them in beneficiary-service.ts.)
 */

/** A key-encryption key (KEK): 32 bytes for AES-256, named by the id kept in every record it wraps. */
export interface KeyEncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * Where the vault's KEKs come from: configuration in development, a KMS adapter later
 * (for instance a KEK that the KMS decrypts at start-up) without touching the domain.
 */
export interface KeyProvider {
  /** The KEK new records are sealed under, and re-wrapped under on rotation. */
  current(): Promise<KeyEncryptionKey>;
  /** The current KEK or an older one, to open records sealed before a rotation. */
  byId(id: string): Promise<KeyEncryptionKey | undefined>;
}

/**
 * The Aadhaar Data Vault pattern: identity numbers (and the mobile) are stored only
 * sealed, each under its own data key, and those keys only wrapped under a KEK. The
 * associated data names the row and the purpose (`beneficiary/<ref>/photo-id`), so a
 * sealed value copied to another row or field does not open.
 */
export interface Vault {
  /** Seals a value; the result is one self-describing record. */
  seal(plaintext: Buffer, associatedData: string): Promise<Buffer>;
  /** Opens a record sealed with the same associated data; throws if anything differs. */
  open(sealed: Buffer, associatedData: string): Promise<Buffer>;
  /** The same record with its data key wrapped under the current KEK; the ciphertext is untouched. */
  rewrap(sealed: Buffer): Promise<Buffer>;
}
