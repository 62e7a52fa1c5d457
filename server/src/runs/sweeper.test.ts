import { describe, expect, it } from 'vitest';
import { isUuid } from '../protocol/index.js';
import { endingEventId } from './sweeper.js';

describe('endingEventId', () => {
  it('is a UUID, the same for the same run and ending, and different otherwise', () => {
    const a = endingEventId('run-1', 'timed_out');
    expect(isUuid(a)).toBe(true);
    expect(endingEventId('run-1', 'timed_out')).toBe(a);
    expect(new Set([a, endingEventId('run-1', 'lost'), endingEventId('run-2', 'timed_out')]).size).toBe(3);
  });
});
