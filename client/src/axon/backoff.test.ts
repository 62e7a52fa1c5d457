import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('doubles a ceiling from initialMs up to maxMs and draws from its upper half', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 1000 }, () => 1))).toEqual([100, 200, 400, 800]);
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, { initialMs: 100, maxMs: 1000 }, () => 0))).toEqual([50, 100, 200, 400]);
    expect(backoffDelay(10, { initialMs: 100, maxMs: 1000 }, () => 1)).toBe(1000);
  });
  it('defaults to 500 ms … 30 s and survives absurd attempts', () => {
    expect(backoffDelay(0, {}, () => 1)).toBe(500);
    expect(backoffDelay(1e9, {}, () => 1)).toBe(30_000);
    expect(backoffDelay(-5, {}, () => 1)).toBe(500);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(3);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});
