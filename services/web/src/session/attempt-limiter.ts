/** A limit of `limit` events per `windowMs`, per key. */
export interface AttemptRule {
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * Counts attempts per key (a client address) in a sliding window, in memory; `take`
 * answers how long to wait when the key is over its limit. Keys whose attempts have
 * all aged out are dropped as they are seen, and all at once by `prune`.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly rule: AttemptRule,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records an attempt by `key` and returns 0, or the ms until one is allowed (not recorded). */
  take(key: string): number {
    const now = this.clock();
    const recent = (this.attempts.get(key) ?? []).filter((at) => now - at < this.rule.windowMs);
    if (recent.length >= this.rule.limit) {
      this.attempts.set(key, recent);
      return (recent[0] as number) + this.rule.windowMs - now;
    }
    recent.push(now);
    this.attempts.set(key, recent);
    return 0;
  }

  prune(): void {
    const now = this.clock();
    for (const [key, times] of this.attempts) {
      if (times.every((at) => now - at >= this.rule.windowMs)) this.attempts.delete(key);
    }
  }
}
