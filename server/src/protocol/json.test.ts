import { describe, expect, it } from 'vitest';
import { canonicalJson, codePointLength, isPlainObject, jsonByteSize, parseJsonObjectBytes, utf8Length } from './json.js';

describe('utf8Length / codePointLength', () => {
  it.each<[string, number, number]>([
    ['', 0, 0],
    ['abc', 3, 3],
    ['é', 2, 1],
    ['€', 3, 1],
    ['🚀', 4, 1],
    ['\ud800', 3, 1],
    ['a🚀é', 7, 3],
  ])('%j: %d bytes, %d code points', (s, bytes, points) => {
    expect(utf8Length(s)).toBe(bytes);
    expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
    expect(codePointLength(s)).toBe(points);
  });
});

describe('isPlainObject', () => {
  it.each<[unknown, boolean]>([
    [{}, true],
    [Object.create(null), true],
    [[], false],
    [null, false],
    [new Date(0), false],
    ['x', false],
  ])('%s → %s', (v, expected) => {
    expect(isPlainObject(v)).toBe(expected);
  });
});

describe('canonicalJson', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each<[unknown, string | null]>([
    [{ b: 1, a: [3, { d: 1, c: 2 }] }, '{"a":[3,{"c":2,"d":1}],"b":1}'],
    [{ a: undefined, b: null }, '{"b":null}'],
    [[undefined, Number.NaN], '[null,null]'],
    ['x', '"x"'],
    [new Date(0), '"1970-01-01T00:00:00.000Z"'],
    [cyclic, null],
    [{ n: 1n }, null],
    [undefined, null],
  ])('%s', (v, expected) => {
    const r = canonicalJson(v);
    if (expected === null) expect(r.ok).toBe(false);
    else expect(r).toEqual({ ok: true, value: expected });
  });

  it('is the same for objects with keys in another order', () => {
    expect(canonicalJson({ x: 1, y: { b: 2, a: 1 } })).toEqual(canonicalJson({ y: { a: 1, b: 2 }, x: 1 }));
  });
});

describe('jsonByteSize', () => {
  it.each<[unknown, number | null]>([
    [{ a: 'é' }, 10],
    [[1, 2], 5],
    [{ n: 1n }, null],
  ])('%s', (v, expected) => {
    const r = jsonByteSize(v);
    if (expected === null) expect(r.ok).toBe(false);
    else expect(r).toEqual({ ok: true, value: expected });
  });
});

describe('parseJsonObjectBytes', () => {
  const enc = new TextEncoder();
  it.each<[string, Uint8Array, number, string | null]>([
    ['object', enc.encode('{"a":1}'), 100, null],
    ['at the limit', enc.encode('{"a":1}'), 7, null],
    ['over the limit', enc.encode('{"a":1}'), 6, 'too_large'],
    ['bad UTF-8', new Uint8Array([0xc0, 0x80]), 100, 'invalid_utf8'],
    ['trailing garbage', enc.encode('{} x'), 100, 'invalid_json'],
    ['array', enc.encode('[{}]'), 100, 'not_object'],
    ['a NUL escape in a value (the database refuses it)', enc.encode('{"a":{"b":["x\\u0000"]}}'), 100, 'invalid_json'],
    ['a NUL escape in a key', enc.encode('{"a\\u0000":1}'), 100, 'invalid_json'],
    ['an unpaired surrogate', enc.encode('{"a":"\\uD800"}'), 100, 'invalid_json'],
    ['a surrogate pair', enc.encode('{"a":"\\ud83d\\ude00"}'), 100, null],
    ['an escaped backslash before u0000', enc.encode('{"a":"\\\\u0000"}'), 100, null],
  ])('%s', (_name, buf, max, code) => {
    const r = parseJsonObjectBytes(buf, max);
    if (code === null) expect(r.ok).toBe(true);
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe(code);
    }
  });
});
