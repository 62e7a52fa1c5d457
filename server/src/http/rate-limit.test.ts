import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limit.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('createRateLimiter', () => {
  it('allows a burst, then refuses with the time until the next token', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 2, burst: 3 } }, now: c.now });
    for (let i = 0; i < 3; i++) expect(limiter.take({ ip: '1.2.3.4' })).toEqual({ ok: true });
    expect(limiter.take({ ip: '1.2.3.4' })).toEqual({ ok: false, retryAfterMs: 500, scope: 'ip' });
    c.advance(499);
    expect(limiter.take({ ip: '1.2.3.4' }).ok).toBe(false);
    c.advance(1);
    expect(limiter.take({ ip: '1.2.3.4' })).toEqual({ ok: true });
  });

  it('keeps one bucket per key', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 1, burst: 1 } }, now: c.now });
    expect(limiter.take({ ip: 'a' }).ok).toBe(true);
    expect(limiter.take({ ip: 'a' }).ok).toBe(false);
    expect(limiter.take({ ip: 'b' }).ok).toBe(true);
  });

  it('refills no further than the burst', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 10, burst: 2 } }, now: c.now });
    limiter.take({ ip: 'a' });
    c.advance(60_000);
    expect(limiter.take({ ip: 'a' }).ok).toBe(true);
    expect(limiter.take({ ip: 'a' }).ok).toBe(true);
    expect(limiter.take({ ip: 'a' }).ok).toBe(false);
  });

  it('takes from every scope or from none', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { key: { ratePerSecond: 1, burst: 1 }, ip: { ratePerSecond: 1, burst: 5 } }, now: c.now });
    expect(limiter.take({ key: 'k1', ip: 'a' }).ok).toBe(true);
    // The key is spent: the refusal must not cost the IP a token.
    expect(limiter.take({ key: 'k1', ip: 'a' })).toMatchObject({ ok: false, scope: 'key' });
    for (let i = 0; i < 4; i++) expect(limiter.take({ key: `other-${i}`, ip: 'a' }).ok).toBe(true);
    expect(limiter.take({ key: 'k9', ip: 'a' })).toMatchObject({ ok: false, scope: 'ip' });
  });

  it('skips absent keys and disabled rules', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { key: { ratePerSecond: 1, burst: 1 }, ip: { ratePerSecond: 0, burst: 1 } }, now: c.now });
    for (let i = 0; i < 10; i++) expect(limiter.take({ key: null, ip: 'a' }).ok).toBe(true);
    expect(limiter.size()).toBe(0);
  });

  it('charges a cost of several tokens', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 4, burst: 4 } }, now: c.now });
    expect(limiter.take({ ip: 'a' }, 3).ok).toBe(true);
    expect(limiter.take({ ip: 'a' }, 3)).toEqual({ ok: false, retryAfterMs: 500, scope: 'ip' });
  });

  it('stays bounded: idle buckets are swept, then the least recently used go', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 1, burst: 2 } }, now: c.now, maxBuckets: 100 });
    for (let i = 0; i < 1_000; i++) limiter.take({ ip: `10.0.${i >> 8}.${i & 255}` });
    expect(limiter.size()).toBeLessThanOrEqual(100);
    // All of them refill after two seconds; the next sweep (at most a minute later) drops them.
    c.advance(61_000);
    limiter.take({ ip: 'fresh' });
    expect(limiter.size()).toBe(1);
  });

  it('keeps a refused key when evicting for room', () => {
    const c = clock();
    const limiter = createRateLimiter({ rules: { ip: { ratePerSecond: 0.001, burst: 1 } }, now: c.now, maxBuckets: 3 });
    limiter.take({ ip: 'busy' });
    limiter.take({ ip: 'x1' });
    limiter.take({ ip: 'x2' });
    expect(limiter.take({ ip: 'busy' }).ok).toBe(false);
    limiter.take({ ip: 'x3' });
    limiter.take({ ip: 'x4' });
    expect(limiter.size()).toBe(3);
    // x1 and x2 went; 'busy' is still spent.
    expect(limiter.take({ ip: 'busy' }).ok).toBe(false);
    expect(limiter.take({ ip: 'x1' }).ok).toBe(true);
  });
});
