import { describe, expect, it } from 'vitest';
import { formatRfc3339, isRfc3339, parseRfc3339 } from './time.js';

describe('parseRfc3339', () => {
  it.each<[string, number | null]>([
    ['2026-01-04T12:36:20Z', Date.UTC(2026, 0, 4, 12, 36, 20)],
    ['2026-01-04t12:36:20z', Date.UTC(2026, 0, 4, 12, 36, 20)],
    ['2026-01-04T12:36:20.123Z', Date.UTC(2026, 0, 4, 12, 36, 20, 123)],
    ['2026-01-04T12:36:20.123456789Z', Date.UTC(2026, 0, 4, 12, 36, 20, 123)],
    ['2026-01-04T14:36:20+02:00', Date.UTC(2026, 0, 4, 12, 36, 20)],
    ['2026-01-04T10:06:20-02:30', Date.UTC(2026, 0, 4, 12, 36, 20)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2016-12-31T23:59:60Z', Date.UTC(2017, 0, 1)],
    ['0001-01-01T00:00:00Z', -62135596800000],
    ['2025-02-29T00:00:00Z', null],
    ['2025-04-31T00:00:00Z', null],
    ['2025-13-01T00:00:00Z', null],
    ['2025-00-01T00:00:00Z', null],
    ['2025-01-01T24:00:00Z', null],
    ['2025-01-01T00:60:00Z', null],
    ['2025-01-01T00:00:61Z', null],
    ['2025-01-01T00:00:00+24:00', null],
    ['2025-01-01T00:00:00', null],
    ['2025-01-01 00:00:00Z', null],
    ['2025-01-01', null],
    ['2025-01-01T00:00Z', null],
    ['2025-01-01T00:00:00.Z', null],
    ['', null],
  ])('%s', (s, expected) => {
    expect(parseRfc3339(s)).toBe(expected);
    expect(isRfc3339(s)).toBe(expected !== null);
  });

  it.each([[1], [null], [undefined], [{}]])('%s is not a timestamp', (v) => {
    expect(parseRfc3339(v)).toBeNull();
  });
});

describe('formatRfc3339', () => {
  it.each<[number, string | null]>([
    [0, '1970-01-01T00:00:00.000Z'],
    [Date.UTC(2026, 0, 4, 12, 36, 20, 123), '2026-01-04T12:36:20.123Z'],
    [1.7, '1970-01-01T00:00:00.001Z'],
    [Number.NaN, null],
    [Number.POSITIVE_INFINITY, null],
    [9e15, null],
    [Date.UTC(10000, 0, 1), null],
  ])('%s → %s', (ms, expected) => {
    const s = formatRfc3339(ms);
    expect(s).toBe(expected);
    if (s !== null) expect(isRfc3339(s)).toBe(true);
  });
});
