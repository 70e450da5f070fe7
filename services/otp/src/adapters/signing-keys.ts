import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { withTransaction, type Pool } from '@vaxguard/db';
import { unavailable } from '@vaxguard/errors';
import type { Logger } from '@vaxguard/logging';
import { TOKEN_ALGORITHM, toPayload, type PublicJwk, type TokenClaims } from '@vaxguard/tokens';
import type { Clock, TokenSigner } from '../domain/model';
import { isRotationDue, keyRetiresAt } from '../domain/otp-rules';
import type { Sealer } from '@vaxguard/sealing';

// One rotator per database at a time.
const ROTATION_LOCK = 'vaxguard/otp/signing-key-rotation';
/** The sealing context of private signing keys (the service and its rotate-keys task). */
export const SIGNING_KEY_SEAL_CONTEXT = 'vaxguard/otp/signing-key/v1';

interface ActiveKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly createdAt: Date;
}

export interface SigningKeysOptions {
  readonly pool: Pool;
  /** Seals private keys under the key-encryption key. */
  readonly sealer: Sealer;
  readonly clock: Clock;
  readonly rotationMs: number;
  readonly logger: Logger;
}

/**
 * The Ed25519 signing keys, kept in PostgreSQL with the private half sealed. One
 * instance at a time rotates (advisory lock); every instance reloads the active key
 * on `maintain()`. A rotated key stays published until every token it signed has
 * expired: its retirement time covers the longest token life, and any token it signed
 * later (an instance not yet reloaded) keeps it published through `issued_tokens`.
 */
export class SigningKeys implements TokenSigner {
  private active: ActiveKey | undefined;

  constructor(private readonly options: SigningKeysOptions) {}

  /** Rotates if due, then reloads the active key. Run at start and periodically. */
  async maintain(): Promise<void> {
    await this.rotateIfDue();
    await this.reload();
  }

  /** Makes a new active key when there is none or the active one is too old; returns its kid if it did. */
  async rotateIfDue(): Promise<string | undefined> {
    return this.rotateWhen((createdAt, now) =>
      isRotationDue(createdAt, now, this.options.rotationMs),
    );
  }

  /**
   * Makes a new active key now, whatever the age of the current one (an operator's
   * rotation: `nx run otp:rotate-keys`). The current key is retired as by age: it stays
   * published until the tokens it signed have expired. Returns the new key's kid.
   */
  async rotateNow(): Promise<string> {
    return (await this.rotateWhen(() => true)) as string;
  }

  private async rotateWhen(
    due: (activeCreatedAt: Date | undefined, now: Date) => boolean,
  ): Promise<string | undefined> {
    return withTransaction(this.options.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [ROTATION_LOCK]);
      const now = this.options.clock();
      const { rows } = await tx.query<{ kid: string; created_at: Date }>(
        'SELECT kid, created_at FROM signing_keys WHERE rotated_at IS NULL',
      );
      const current = rows[0];
      if (!due(current?.created_at, now)) return undefined;
      if (current) {
        await tx.query(
          'UPDATE signing_keys SET rotated_at = $2, retire_after = $3 WHERE kid = $1',
          [current.kid, now, keyRetiresAt(now)],
        );
      }
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const exported = publicKey.export({ format: 'jwk' });
      const kid = await calculateJwkThumbprint({
        kty: 'OKP',
        crv: 'Ed25519',
        x: exported.x as string,
      });
      const jwk: PublicJwk = {
        kty: 'OKP',
        crv: 'Ed25519',
        x: exported.x as string,
        kid,
        alg: TOKEN_ALGORITHM,
        use: 'sig',
      };
      const sealed = this.options.sealer.seal(
        privateKey.export({ format: 'der', type: 'pkcs8' }),
        kid,
      );
      await tx.query(
        'INSERT INTO signing_keys (kid, public_jwk, private_key_sealed, created_at) VALUES ($1, $2, $3, $4)',
        [kid, JSON.stringify(jwk), sealed, now],
      );
      this.options.logger.info('signing key rotated', {
        keyId: kid,
        previousKeyId: current?.kid ?? null,
      });
      return kid;
    });
  }

  /** Loads the active key from the database. */
  async reload(): Promise<void> {
    const { rows } = await this.options.pool.query<{
      kid: string;
      private_key_sealed: Buffer;
      created_at: Date;
    }>('SELECT kid, private_key_sealed, created_at FROM signing_keys WHERE rotated_at IS NULL');
    const row = rows[0];
    if (!row) return;
    if (this.active?.kid === row.kid) return;
    const der = this.options.sealer.open(row.private_key_sealed, row.kid);
    this.active = {
      kid: row.kid,
      privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }),
      createdAt: row.created_at,
    };
  }

  get activeKeyId(): string | undefined {
    return this.active?.kid;
  }

  /** When the active key was made: it is replaced once it is `rotationMs` old. */
  get activeKeyCreatedAt(): Date | undefined {
    return this.active?.createdAt;
  }

  async sign(claims: Omit<TokenClaims, 'keyId'>): Promise<{ token: string; keyId: string }> {
    const active = this.active;
    if (!active) throw unavailable('no signing key is loaded yet');
    const token = await new SignJWT({ ...toPayload(claims) })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: active.kid, typ: 'JWT' })
      .sign(active.privateKey);
    return { token, keyId: active.kid };
  }

  /**
   * The keys that verify tokens now: the active one, rotated ones until their
   * retirement time, and any key that signed a token not yet expired. Read from the
   * database on every call so a key rotated by another instance is published at once.
   */
  async publishedKeys(): Promise<PublicJwk[]> {
    const { rows } = await this.options.pool.query<{ public_jwk: PublicJwk }>(
      `SELECT k.public_jwk FROM signing_keys k
        WHERE k.rotated_at IS NULL
           OR k.retire_after > $1
           OR EXISTS (SELECT 1 FROM issued_tokens t WHERE t.key_id = k.kid AND t.expires_at > $1)
        ORDER BY k.created_at DESC`,
      [this.options.clock()],
    );
    return rows.map((row) => row.public_jwk);
  }
}
