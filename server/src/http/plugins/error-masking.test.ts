import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createErrorMask, maskResult, UNEXPECTED_ERROR_MESSAGE } from './error-masking.js';

const driverError = () => new Error('Failed query: select * from runs where tenant = $1');

describe('createErrorMask', () => {
  it.each([
    { name: 'a plain Error', error: driverError(), masked: true },
    { name: 'a GraphQLError around an unexpected error', error: new GraphQLError('Failed query: select 1', { originalError: driverError(), path: ['runs'] }), masked: true },
    { name: 'a string', error: 'connection refused at 127.0.0.1:5432', masked: true },
    { name: 'a typed GraphQLError', error: new GraphQLError('no run x', { extensions: { code: 'not_found' } }), masked: false },
    { name: 'a GraphQLError around a typed one', error: new GraphQLError('too slow', { originalError: new GraphQLError('too slow', { extensions: { code: 'subscriber_too_slow' } }) }), masked: false },
  ])('$name: masked $masked', ({ error, masked }) => {
    const heard: unknown[] = [];
    const mask = createErrorMask((e) => heard.push(e));
    const result = mask(error);
    if (masked) {
      expect(result.message).toBe(UNEXPECTED_ERROR_MESSAGE);
      expect(result.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', unexpected: true });
      expect(JSON.stringify(result.toJSON())).not.toMatch(/select|127\.0\.0\.1|stack/);
      expect(heard).toEqual([error]);
    } else {
      expect(result).toBe(error);
      expect(heard).toEqual([]);
    }
    // Masking twice changes nothing and reports nothing more.
    expect(mask(result)).toBe(result);
    expect(heard.length).toBe(masked ? 1 : 0);
  });

  it('keeps the path of a masked field error and its HTTP status hint', () => {
    const mask = createErrorMask(() => {});
    const masked = mask(new GraphQLError('boom', { originalError: driverError(), path: ['run', 'events'], extensions: { http: { status: 503 } } }));
    expect(masked.path).toEqual(['run', 'events']);
    expect(masked.extensions.http).toEqual({ status: 503 });
  });
});

describe('maskResult', () => {
  const mask = createErrorMask(() => {});
  it('returns the same result when nothing needs masking', () => {
    const clean = { data: { a: 1 } };
    const typed = { data: null, errors: [new GraphQLError('nope', { extensions: { code: 'forbidden' } })] };
    expect(maskResult(clean, mask)).toBe(clean);
    expect(maskResult(typed, mask)).toBe(typed);
  });

  it('masks the unexpected errors of a result and keeps its data and typed errors', () => {
    const typed = new GraphQLError('nope', { extensions: { code: 'forbidden' } });
    const result = { data: { a: null }, errors: [typed, new GraphQLError('x', { originalError: driverError() })] };
    const masked = maskResult(result, mask);
    expect(masked).not.toBe(result);
    expect(masked.data).toBe(result.data);
    expect(masked.errors.map((e) => e.message)).toEqual(['nope', UNEXPECTED_ERROR_MESSAGE]);
    expect(masked.errors[0]).toBe(typed);
  });
});
