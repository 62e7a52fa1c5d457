import { describe, expect, it } from 'vitest';
import { applyOperator, containsStrict } from './operators.js';

describe('applyOperator', () => {
  it.each([
    ['eq', 1, 1, true],
    ['eq', 1, '1', false],
    ['neq', null, undefined, true],
    ['gt', 2, 1, true],
    ['gt', '2', 1, false],
    ['gte', 1, '1', false],
    ['in', 'a', ['a'], true],
    ['in', 'a', 'a', false],
    ['nin', 'a', 'b', false],
    ['nin', 'a', ['b'], true],
    ['exists', 0, undefined, true],
    ['exists', null, false, true],
    ['exists', 1, 'yes', false],
  ] as const)('%s(%j, %j) → %s', (op, actual, expected, result) => {
    expect(applyOperator(op, actual, expected)).toBe(result);
  });

  it('treats an unknown operator as false', () => {
    expect(applyOperator('like' as never, 1, 1)).toBe(false);
  });
});

describe('containsStrict', () => {
  it('uses === (NaN is never contained, -0 matches 0)', () => {
    expect(containsStrict([Number.NaN], Number.NaN)).toBe(false);
    expect(containsStrict([0], -0)).toBe(true);
  });
});
