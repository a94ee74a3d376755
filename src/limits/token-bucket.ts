/**
 * A token bucket: `ratePerSec` tokens refill continuously up to `burst`. One copy of the rule for
 * every per-client and per-peer rate limit (API clients, peers' batch and sync requests).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `cost` tokens if there are that many; false (nothing taken) otherwise. */
  take(now: number, cost = 1): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens will be there (0 when they are now). */
  waitMs(now: number, cost = 1): number {
    this.refill(now);
    if (this.tokens >= cost) return 0;
    return Math.ceil(((cost - this.tokens) / this.ratePerSec) * 1000);
  }

  /** Whether the bucket is full (its holder has been idle): a keyed limiter may forget it. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
  }
}

/**
 * Token buckets by key (a client address, a peer index), bounded: idle keys (full buckets) are
 * forgotten, and past `maxKeys` the oldest key is dropped, so a stranger who rotates addresses
 * costs bounded memory.
 */
export class KeyedLimiter<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxKeys = 100_000,
  ) {}

  take(key: K, now: number, cost = 1): boolean {
    return this.bucket(key, now).take(now, cost);
  }

  waitMs(key: K, now: number, cost = 1): number {
    return this.bucket(key, now).waitMs(now, cost);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops keys whose bucket refilled completely (call now and then). */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.full(now)) this.buckets.delete(k);
  }

  private bucket(key: K, now: number): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        this.sweep(now);
        if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as K);
      }
      b = new TokenBucket(this.ratePerSec, this.burst, now);
      this.buckets.set(key, b);
    }
    return b;
  }
}
