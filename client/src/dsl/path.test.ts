import { describe, expect, it } from 'vitest';
import { getPath, joinIndex, joinKey, parsePlaceholder, splitPath } from './path.js';

describe('splitPath', () => {
  it.each([
    ['status', ['status']],
    ['payload.tags.0', ['payload', 'tags', '0']],
    ['', null],
    ['a..b', null],
    ['.a', null],
    ['a.', null],
  ])('%j → %j', (path, expected) => {
    expect(splitPath(path)).toEqual(expected);
  });
});

describe('getPath', () => {
  const subject = { a: { b: [10, 20], s: 'hello', n: null }, own: { constructor: 'mine' } };
  it.each([
    [['a', 'b', '1'], 20],
    [['a', 'b', 'length'], 2],
    [['a', 's', 'length'], 5],
    [['a', 's', '0'], undefined],
    [['a', 'n', 'x'], undefined],
    [['a', 'missing', 'x'], undefined],
    [['__proto__'], undefined],
    [['constructor'], undefined],
    [['toString'], undefined],
    [['a', 'b', 'map'], undefined],
    [['own', 'constructor'], 'mine'],
  ])('%j → %j', (segments, expected) => {
    expect(getPath(subject, segments)).toEqual(expected);
  });
});

describe('parsePlaceholder', () => {
  it.each([
    ['action.id', ['id']],
    [' action.payload.prompt ', ['payload', 'prompt']],
    ['id', ['id']],
    ['payload.tags.0', ['payload', 'tags', '0']],
    ['action', ['action']],
    ['a..b', null],
    ['', null],
    ['a b', null],
    ['payload.__proto__', null],
    ['constructor', null],
    ['a.prototype', null],
  ])('%j → %j', (inner, expected) => {
    expect(parsePlaceholder(inner)).toEqual(expected);
  });
});

describe('issue paths', () => {
  it('joins keys and indices', () => {
    expect(joinIndex(joinKey(joinKey('', 'types'), 'research'), 0)).toBe('types.research[0]');
    expect(joinKey('types', 'a.b')).toBe('types["a.b"]');
    expect(joinKey('', 'a b')).toBe('["a b"]');
  });
});
