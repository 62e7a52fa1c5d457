// The retry schedule of webhook deliveries: exponential backoff with full
// jitter, Retry-After, dead letters. Pure: the random source and the clock are
// passed in.

export interface RetryPolicy {
  /** Delay bound of the first retry, in milliseconds. */
  baseMs: number;
  /** No delay exceeds this, Retry-After included. */
  capMs: number;
  /** Attempts in all, the first one included; after the last one fails the delivery is dead-lettered. */
  maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 1_000, capMs: 300_000, maxAttempts: 12 };

/** The upper bound of the delay after failed attempt `attempt` (1-based): `min(cap, base * 2^(attempt-1))`. */
export function backoffCapMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'capMs'>): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity long after it passed any cap; min() handles that.
  return Math.max(0, Math.min(policy.capMs, policy.baseMs * 2 ** exponent));
}

/** Full jitter: a uniform delay in `[0, backoffCapMs(attempt)]`, whole milliseconds. `random` returns [0, 1). */
export function fullJitterDelayMs(attempt: number, policy: Pick<RetryPolicy, 'baseMs' | 'capMs'>, random: () => number): number {
  const cap = backoffCapMs(attempt, policy);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(cap, Math.floor(r * (cap + 1)));
}

const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * A `Retry-After` header (RFC 9110 §10.2.3) as a delay in milliseconds from
 * `nowMs`: delay-seconds (digits only) or an IMF-fixdate HTTP date (a date in
 * the past means 0). Anything else, or no header, is null.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  if (!HTTP_DATE.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export type AttemptOutcome =
  /** The receiver answered 2xx. */
  | { kind: 'delivered' }
  /** Any other answer, a network error or a timeout. `retryAfterMs` from the answer's Retry-After. */
  | { kind: 'failed'; retryAfterMs?: number | null };

export type NextStep = { kind: 'delivered' } | { kind: 'retry'; delayMs: number; reason: 'backoff' | 'retry_after' } | { kind: 'dead_letter' };

/** What follows attempt number `attempt` (1-based) given its outcome. */
export function nextStep(attempt: number, outcome: AttemptOutcome, policy: RetryPolicy, random: () => number): NextStep {
  if (outcome.kind === 'delivered') return { kind: 'delivered' };
  if (attempt >= policy.maxAttempts) return { kind: 'dead_letter' };
  if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs !== null) {
    return { kind: 'retry', delayMs: Math.min(policy.capMs, Math.max(0, outcome.retryAfterMs)), reason: 'retry_after' };
  }
  return { kind: 'retry', delayMs: fullJitterDelayMs(attempt, policy, random), reason: 'backoff' };
}

/** Whether an HTTP status means the receiver took the event. */
export const isDelivered = (status: number): boolean => status >= 200 && status <= 299;
