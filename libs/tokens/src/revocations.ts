/**
 * The token ids revoked before their expiry, held in memory by every service so a
 * verification needs no round trip. An entry is forgotten once its token has expired.
 */
export class RevocationSet {
  private readonly revoked = new Map<string, number>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  add(tokenId: string, expiresAt: Date): void {
    if (expiresAt.getTime() <= this.clock().getTime()) return;
    this.revoked.set(tokenId, expiresAt.getTime());
  }

  isRevoked(tokenId: string): boolean {
    const expiresAt = this.revoked.get(tokenId);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.clock().getTime()) {
      this.revoked.delete(tokenId);
      return false;
    }
    return true;
  }

  /** Drops entries whose tokens have expired; returns how many remain. */
  prune(): number {
    const now = this.clock().getTime();
    for (const [tokenId, expiresAt] of this.revoked) {
      if (expiresAt <= now) this.revoked.delete(tokenId);
    }
    return this.revoked.size;
  }
}
