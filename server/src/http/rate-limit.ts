// Token buckets keyed by a string (a client IP, an API key id). Pure: the
// clock is injected, nothing is timed or logged here. Memory is bounded: idle
// buckets (refilled to their burst) are dropped, and past `maxBuckets` the
// least recently used ones go first.

export interface BucketRule {
  /** Tokens added per second; 0 disables the rule (never limits). */
  ratePerSecond: number;
  /** Bucket size: how many can be taken at once after a quiet period. */
  burst: number;
}

export type RateDecision = { ok: true } | { ok: false; /** When one token will be there again. */ retryAfterMs: number; /** Which rule refused. */ scope: string };

interface Bucket {
  tokens: number;
  at: number;
}

export interface RateLimiterOptions {
  rules: Record<string, BucketRule>;
  now?: () => number;
  /** Upper bound on buckets kept across all scopes (default 100 000). */
  maxBuckets?: number;
}

export interface RateLimiter {
  /**
   * Takes `cost` tokens from each named bucket, or from none: a request
   * refused by one scope costs nothing in the others.
   */
  take(keys: Partial<Record<string, string | null | undefined>>, cost?: number): RateDecision;
  /** Buckets currently held (for tests and metrics). */
  size(): number;
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const now = options.now ?? Date.now;
  const maxBuckets = options.maxBuckets ?? 100_000;
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  function refill(rule: BucketRule, bucket: Bucket, at: number): number {
    return Math.min(rule.burst, bucket.tokens + ((at - bucket.at) / 1000) * rule.ratePerSecond);
  }

  /** Drops buckets that have refilled (they hold nothing a new bucket would not). */
  function sweep(at: number): void {
    for (const [id, bucket] of buckets) {
      const rule = options.rules[id.slice(0, id.indexOf('\0'))];
      if (!rule || refill(rule, bucket, at) >= rule.burst) buckets.delete(id);
    }
    lastSweep = at;
  }

  return {
    take(keys, cost = 1) {
      const at = now();
      if (at - lastSweep > 60_000 || buckets.size >= maxBuckets) sweep(at);
      const picked: Array<{ id: string; tokens: number }> = [];
      for (const [scope, key] of Object.entries(keys)) {
        const rule = options.rules[scope];
        if (!rule || rule.ratePerSecond <= 0 || key == null) continue;
        const id = `${scope}\0${key}`;
        const bucket = buckets.get(id);
        const tokens = bucket ? refill(rule, bucket, at) : rule.burst;
        if (tokens < cost) {
          // A refused client is the one worth remembering: refresh its recency, not its tokens.
          if (bucket) {
            buckets.delete(id);
            buckets.set(id, bucket);
          }
          const missing = cost - tokens;
          return { ok: false, retryAfterMs: Math.max(1, Math.ceil((missing / rule.ratePerSecond) * 1000)), scope };
        }
        picked.push({ id, tokens: tokens - cost });
      }
      for (const { id, tokens } of picked) {
        // Delete then set: Map order becomes recency order for the eviction below.
        buckets.delete(id);
        buckets.set(id, { tokens, at });
      }
      while (buckets.size > maxBuckets) {
        const oldest = buckets.keys().next().value as string;
        buckets.delete(oldest);
      }
      return { ok: true };
    },
    size: () => buckets.size,
  };
}
