import { createPublicKey, type KeyObject } from 'node:crypto';

/** An Ed25519 public key in JWK form (RFC 8037), as GetSigningKeys publishes it. */
export interface PublicJwk {
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly kid: string;
  readonly alg: string;
  readonly use: string;
}

export type FetchKeys = () => Promise<readonly PublicJwk[]>;

export interface JwksCacheOptions {
  /** A fetch is never repeated sooner than this, whatever unknown key ids arrive. */
  readonly minRefreshIntervalMs?: number;
  /** Keys are refetched after this, so retired keys stop verifying. */
  readonly maxAgeMs?: number;
  readonly clock?: () => Date;
}

/**
 * The signing keys, fetched from the OTP service and kept. An unknown key id triggers
 * one refetch (rate-limited, so forged key ids cannot flood the OTP service).
 */
export class JwksCache {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private readonly minRefreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly clock: () => Date;

  constructor(
    private readonly fetchKeys: FetchKeys,
    options: JwksCacheOptions = {},
  ) {
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 5_000;
    this.maxAgeMs = options.maxAgeMs ?? 60_000;
    this.clock = options.clock ?? (() => new Date());
  }

  async find(keyId: string): Promise<KeyObject | undefined> {
    const age = this.clock().getTime() - this.fetchedAt;
    if (age > this.maxAgeMs || (!this.keys.has(keyId) && age >= this.minRefreshIntervalMs)) {
      await this.refresh();
    }
    return this.keys.get(keyId);
  }

  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    const jwks = await this.fetchKeys();
    const keys = new Map<string, KeyObject>();
    for (const jwk of jwks) {
      if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.alg !== 'EdDSA') continue;
      keys.set(
        jwk.kid,
        createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' }),
      );
    }
    this.keys = keys;
    this.fetchedAt = this.clock().getTime();
  }
}
