/**
 * Reconnection delays: "equal jitter" exponential backoff, uniformly in
 * [ceiling/2, ceiling] with ceiling = min(max, initial · 2^attempt), so that many
 * Axons dropped by one broker restart do not reconnect in lockstep. Pure.
 */
export interface BackoffOptions {
  /** Ceiling of the first delay, ms. Default 500. */
  initialMs?: number;
  /** Largest delay, ms. Default 30 000. */
  maxMs?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialMs ?? 500);
  const max = Math.max(initial, options.maxMs ?? 30_000);
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, Math.floor(attempt)), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
