import { describe, expect, it } from 'vitest';
import { backoffCapMs, DEFAULT_RETRY_POLICY, fullJitterDelayMs, isDelivered, nextStep, parseRetryAfter } from './schedule.js';

const policy = DEFAULT_RETRY_POLICY; // base 1 s, cap 5 min, 12 attempts

describe('backoffCapMs: min(cap, base * 2^(attempt-1))', () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [8, 128_000],
    [9, 256_000],
    [10, 300_000],
    [11, 300_000],
    [12, 300_000],
    [200, 300_000],
    [2_000, 300_000],
    [0, 1_000],
  ])('attempt %i → %i ms', (attempt, cap) => {
    expect(backoffCapMs(attempt, policy)).toBe(cap);
  });

  it('uses small test values the same way', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffCapMs(a, { baseMs: 50, capMs: 150 }))).toEqual([50, 100, 150, 150, 150]);
  });
});

describe('fullJitterDelayMs: uniform in [0, cap]', () => {
  it.each([
    { attempt: 1, r: 0, want: 0 },
    { attempt: 1, r: 0.5, want: 500 },
    { attempt: 1, r: 0.999_999_9, want: 1_000 },
    { attempt: 3, r: 0.25, want: 1_000 },
    { attempt: 12, r: 0.5, want: 150_000 },
    { attempt: 12, r: 0.999_999_99, want: 300_000 },
    // A random source outside [0, 1) is clamped rather than trusted.
    { attempt: 2, r: 7, want: 2_000 },
    { attempt: 2, r: -1, want: 0 },
  ])('attempt $attempt, random $r → $want ms', ({ attempt, r, want }) => {
    expect(fullJitterDelayMs(attempt, policy, () => r)).toBe(want);
  });

  it('never leaves [0, cap] over many draws, and spreads over it', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const cap = backoffCapMs(attempt, policy);
      const draws = Array.from({ length: 500 }, () => fullJitterDelayMs(attempt, policy, Math.random));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws)).toBeLessThanOrEqual(cap);
      expect(Math.max(...draws) - Math.min(...draws)).toBeGreaterThan(cap / 2);
    }
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-04T12:00:00Z');
  it.each([
    { value: '1', want: 1_000 },
    { value: '0', want: 0 },
    { value: ' 120 ', want: 120_000 },
    { value: 'Sun, 04 Jan 2026 12:00:30 GMT', want: 30_000 },
    { value: 'Sun, 04 Jan 2026 11:00:00 GMT', want: 0 },
    { value: '-1', want: null },
    { value: '1.5', want: null },
    { value: 'soon', want: null },
    { value: '', want: null },
    { value: '2026-01-04T12:00:30Z', want: null },
    { value: 'Sunday, 04-Jan-26 12:00:30 GMT', want: null },
    { value: null, want: null },
    { value: undefined, want: null },
  ])('$value → $want', ({ value, want }) => {
    expect(parseRetryAfter(value, now)).toBe(want);
  });
});

describe('nextStep', () => {
  const half = () => 0.5;
  it.each([
    { name: 'a 2xx answer delivers', attempt: 1, outcome: { kind: 'delivered' as const }, want: { kind: 'delivered' } },
    { name: 'a 2xx answer on the last attempt delivers', attempt: 12, outcome: { kind: 'delivered' as const }, want: { kind: 'delivered' } },
    { name: 'a failure retries with full jitter', attempt: 1, outcome: { kind: 'failed' as const }, want: { kind: 'retry', delayMs: 500, reason: 'backoff' } },
    { name: 'the jitter bound doubles', attempt: 4, outcome: { kind: 'failed' as const }, want: { kind: 'retry', delayMs: 4_000, reason: 'backoff' } },
    { name: 'Retry-After replaces the jitter', attempt: 1, outcome: { kind: 'failed' as const, retryAfterMs: 7_000 }, want: { kind: 'retry', delayMs: 7_000, reason: 'retry_after' } },
    { name: 'Retry-After is capped', attempt: 2, outcome: { kind: 'failed' as const, retryAfterMs: 3_600_000 }, want: { kind: 'retry', delayMs: 300_000, reason: 'retry_after' } },
    { name: 'Retry-After 0 retries at once', attempt: 2, outcome: { kind: 'failed' as const, retryAfterMs: 0 }, want: { kind: 'retry', delayMs: 0, reason: 'retry_after' } },
    { name: 'the 11th failure still retries', attempt: 11, outcome: { kind: 'failed' as const }, want: { kind: 'retry', delayMs: 150_000, reason: 'backoff' } },
    { name: 'the 12th failure dead-letters', attempt: 12, outcome: { kind: 'failed' as const }, want: { kind: 'dead_letter' } },
    { name: 'Retry-After does not extend the attempts', attempt: 12, outcome: { kind: 'failed' as const, retryAfterMs: 1_000 }, want: { kind: 'dead_letter' } },
  ])('$name', ({ attempt, outcome, want }) => {
    expect(nextStep(attempt, outcome, policy, half)).toEqual(want);
  });

  it('gives the whole schedule of a receiver that never answers 2xx', () => {
    const small = { baseMs: 50, capMs: 2_000, maxAttempts: 4 };
    const steps = [1, 2, 3, 4].map((a) => nextStep(a, { kind: 'failed' }, small, () => 0.999_999));
    expect(steps).toEqual([
      { kind: 'retry', delayMs: 50, reason: 'backoff' },
      { kind: 'retry', delayMs: 100, reason: 'backoff' },
      { kind: 'retry', delayMs: 200, reason: 'backoff' },
      { kind: 'dead_letter' },
    ]);
  });
});

describe('isDelivered', () => {
  it.each([
    [200, true],
    [201, true],
    [204, true],
    [299, true],
    [199, false],
    [300, false],
    [302, false],
    [400, false],
    [410, false],
    [429, false],
    [500, false],
    [503, false],
  ])('%i → %s', (status, want) => {
    expect(isDelivered(status)).toBe(want);
  });
});
