import { describe, expect, it } from 'vitest';
import { SeenIds } from './dedup.js';

describe('SeenIds', () => {
  it('tells a first delivery from a redelivery', () => {
    const seen = new SeenIds();
    expect(seen.add('a')).toBe(true);
    expect(seen.add('a')).toBe(false);
    expect(seen.add('b')).toBe(true);
    expect(seen.has('a')).toBe(true);
  });
  it('stays bounded, forgetting the oldest ids first', () => {
    const seen = new SeenIds(3);
    for (const id of ['a', 'b', 'c', 'd']) seen.add(id);
    expect(seen.size).toBe(3);
    expect(seen.has('a')).toBe(false);
    expect(seen.has('d')).toBe(true);
    expect(() => new SeenIds(0)).toThrow(RangeError);
  });
});
