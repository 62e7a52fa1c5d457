import { describe, expect, it } from 'vitest';
import { err, formatPath, joinPath, ok, toFieldError } from './result.js';

describe('paths', () => {
  it.each<[PropertyKey[], string]>([
    [[], ''],
    [['id'], 'id'],
    [['layout', 'root', 0, 'children', 2], 'layout.root[0].children[2]'],
    [[0, 'a'], '[0].a'],
  ])('%j → %s', (segments, expected) => {
    expect(formatPath(segments)).toBe(expected);
  });

  it.each<[string, string | number, string]>([
    ['', 'a', 'a'],
    ['a', 'b', 'a.b'],
    ['a', 3, 'a[3]'],
  ])('joinPath(%s, %s) = %s', (base, seg, expected) => {
    expect(joinPath(base, seg)).toBe(expected);
  });
});

describe('results', () => {
  it.each([
    [ok(1), { ok: true, value: 1 }],
    [err('invalid_id', 'id', 'bad'), { ok: false, error: { code: 'invalid_id', path: 'id', message: 'bad' } }],
  ])('%j', (actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it.each([
    [{ code: 'x', path: '', message: 'm' }, { code: 'x', field: null, message: 'm' }],
    [{ code: 'x', path: 'a.b', message: 'm' }, { code: 'x', field: 'a.b', message: 'm' }],
  ])('toFieldError(%j)', (e, expected) => {
    expect(toFieldError(e)).toEqual(expected);
  });
});
