import { describe, expect, it } from 'vitest';
import { errorData, fitData, jsonBytes, splitText, utf8Bytes } from './chunk.js';
import { ActionError } from './errors.js';

describe('splitText', () => {
  it('cuts at the raw byte limit and never inside a code point', () => {
    const text = 'ab€😀'.repeat(1000);
    const pieces = splitText(text, 16);
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) {
      expect(utf8Bytes(p)).toBeLessThanOrEqual(16);
      expect(p.isWellFormed()).toBe(true);
    }
  });
  it('also bounds the JSON-escaped size (control characters take 6 bytes)', () => {
    const text = '\u0001'.repeat(16 * 1024);
    const pieces = splitText(text, 16 * 1024, 48 * 1024);
    expect(pieces.length).toBeGreaterThan(1);
    for (const p of pieces) expect(jsonBytes(p)).toBeLessThanOrEqual(48 * 1024);
    expect(pieces.join('')).toBe(text);
  });
  it('gives nothing for an empty string and one piece for a short one', () => {
    expect(splitText('', 16)).toEqual([]);
    expect(splitText('hi\n', 16)).toEqual(['hi\n']);
  });
  it('counts quotes and escapes exactly as JSON.stringify does', () => {
    const text = '"\\\n\t\u0000é'.repeat(500);
    for (const p of splitText(text, 1 << 20, 100)) expect(jsonBytes(p)).toBeLessThanOrEqual(100);
  });
});

describe('fitData', () => {
  it('keeps small data as it is', () => {
    const data = { status: 'succeeded', output: { a: 1 } };
    expect(fitData(data)).toBe(data);
  });
  it('replaces a large output by a preview so the data fits', () => {
    const fitted = fitData({ status: 'succeeded', output: 'x'.repeat(200_000) }, 60 * 1024);
    expect(jsonBytes(fitted)).toBeLessThanOrEqual(60 * 1024);
    expect(fitted.output).toMatchObject({ truncated: true, bytes: 200_000 });
  });
  it('survives values JSON cannot serialize', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const fitted = fitData({ status: 'succeeded', output: cyclic });
    expect(jsonBytes(fitted)).toBeLessThan(60 * 1024);
  });
});

describe('errorData', () => {
  it('describes errors, with code and details of an ActionError', () => {
    expect(errorData(new Error('boom'))).toEqual({ message: 'boom' });
    expect(errorData(new ActionError('exit code 2', { code: 'exit_code', details: { exitCode: 2 } }))).toEqual({ message: 'exit code 2', name: 'ActionError', code: 'exit_code', exitCode: 2 });
    expect(errorData('plain')).toEqual({ message: 'plain' });
    expect(errorData(42)).toEqual({ message: '42' });
  });
});
