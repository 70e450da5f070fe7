import type { KeyEncryptionKey, KeyProvider } from '../domain/model';

export interface KeyProviderConfig {
  /** The KEK new records are sealed and re-wrapped under. */
  readonly current: KeyEncryptionKey;
  /** Retired KEKs that still open records not yet re-wrapped. */
  readonly previous?: readonly KeyEncryptionKey[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_BYTES = 32;

/**
 * The vault's KEKs from configuration (development, tests, small deployments). Checks
 * every key at construction, so a bad key stops the start rather than the first seal;
 * messages name key ids, never key bytes.
 */
export class ConfigKeyProvider implements KeyProvider {
  private readonly active: KeyEncryptionKey;
  private readonly keys = new Map<string, KeyEncryptionKey>();

  constructor(config: KeyProviderConfig) {
    const all = [config.current, ...(config.previous ?? [])];
    for (const { id, key } of all) {
      if (!KEY_ID.test(id)) {
        throw new Error('key-encryption key ids must be 1 to 64 of A-Z a-z 0-9 . _ -');
      }
      if (key.length !== KEY_BYTES) {
        throw new Error(`key-encryption key ${id} must be ${KEY_BYTES} bytes (AES-256)`);
      }
      if (this.keys.has(id)) throw new Error(`key-encryption key id ${id} is given twice`);
      // A copy, so later changes to the caller's buffer do not change the key.
      this.keys.set(id, { id, key: Buffer.from(key) });
    }
    this.active = this.keys.get(config.current.id)!;
  }

  /** The provider for keys listed current first, as IDENTITY_KEY_ENCRYPTION_KEYS gives them. */
  static fromList(keys: readonly KeyEncryptionKey[]): ConfigKeyProvider {
    const [current, ...previous] = keys;
    if (!current) throw new Error('no key-encryption key configured');
    return new ConfigKeyProvider({ current, previous });
  }

  async current(): Promise<KeyEncryptionKey> {
    return this.active;
  }

  async byId(id: string): Promise<KeyEncryptionKey | undefined> {
    return this.keys.get(id);
  }
}
