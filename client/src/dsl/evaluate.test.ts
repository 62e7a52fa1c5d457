import { describe, expect, it } from 'vitest';
import { compileCondition } from './compile.js';
import { evaluateCondition } from './evaluate.js';

/** Evaluates with the interpreter and both compiler modes, and checks they agree. */
function run(when: unknown, subject: unknown): boolean {
  const interpreted = evaluateCondition(when, subject);
  expect(compileCondition(when)(subject)).toBe(interpreted);
  expect(compileCondition(when, { codegen: true })(subject)).toBe(interpreted);
  return interpreted;
}

const action = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'act-1',
  userId: 'user-1',
  commandId: 'cmd-1',
  type: 'research',
  confidence: 0.85,
  title: 'Find papers',
  status: 'pending',
  payload: { prompt: 'Find papers on MQTT', tags: ['ai', 'mqtt'], metadata: { name: 'n' } },
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-01T00:00:00Z',
  ...overrides,
});

// Condition snippets from the seed's reference, with results derived from the documented semantics.
const SEED_EQUALITY = { field: 'status', op: 'eq', value: 'pending' };
const SEED_COMPARISON = { field: 'confidence', op: 'gt', value: 0.8 };
const SEED_MEMBERSHIP = { field: 'status', op: 'in', value: ['pending', 'processing'] };
const SEED_EXISTS = { field: 'payload.prompt', op: 'exists' };
const SEED_EXISTS_TRUE = { field: 'payload.prompt', op: 'exists', value: true };
const SEED_EXISTS_FALSE = { field: 'payload.optional', op: 'exists', value: false };
const SEED_ALL = { all: [{ field: 'status', op: 'eq', value: 'pending' }, { field: 'confidence', op: 'gt', value: 0.8 }] };
const SEED_ANY = { any: [{ field: 'status', op: 'eq', value: 'pending' }, { field: 'status', op: 'eq', value: 'processing' }] };
const SEED_NOT = { not: { field: 'status', op: 'eq', value: 'rejected' } };
const SEED_NESTED = {
  all: [
    { field: 'type', op: 'eq', value: 'research' },
    {
      any: [
        { field: 'status', op: 'eq', value: 'pending' },
        {
          all: [
            { field: 'status', op: 'eq', value: 'processing' },
            { field: 'confidence', op: 'gt', value: 0.9 },
          ],
        },
      ],
    },
  ],
};
const SEED_APPROVE_RESEARCH = { field: 'status', op: 'eq', value: 'pending' };
const SEED_DELETE = { field: 'status', op: 'eq', value: 'failed' };

describe('seed condition examples', () => {
  it.each([
    ['equality: pending', SEED_EQUALITY, action(), true],
    ['equality: processing', SEED_EQUALITY, action({ status: 'processing' }), false],
    ['comparison: 0.85 > 0.8', SEED_COMPARISON, action(), true],
    ['comparison: 0.8 > 0.8', SEED_COMPARISON, action({ confidence: 0.8 }), false],
    ['comparison: "0.85" is a string', SEED_COMPARISON, action({ confidence: '0.85' }), false],
    ['membership: pending', SEED_MEMBERSHIP, action(), true],
    ['membership: processing', SEED_MEMBERSHIP, action({ status: 'processing' }), true],
    ['membership: failed', SEED_MEMBERSHIP, action({ status: 'failed' }), false],
    ['exists: prompt present', SEED_EXISTS, action(), true],
    ['exists: empty prompt still exists', SEED_EXISTS, action({ payload: { prompt: '' } }), true],
    ['exists: prompt null', SEED_EXISTS, action({ payload: { prompt: null } }), false],
    ['exists: prompt missing', SEED_EXISTS, action({ payload: {} }), false],
    ['exists: payload missing', SEED_EXISTS, { id: 'x' }, false],
    ['exists true: prompt present', SEED_EXISTS_TRUE, action(), true],
    ['exists true: prompt missing', SEED_EXISTS_TRUE, action({ payload: {} }), false],
    ['exists false: optional missing', SEED_EXISTS_FALSE, action(), true],
    ['exists false: optional null', SEED_EXISTS_FALSE, action({ payload: { optional: null } }), true],
    ['exists false: optional present', SEED_EXISTS_FALSE, action({ payload: { optional: 0 } }), false],
    ['all: pending and 0.85', SEED_ALL, action(), true],
    ['all: pending and 0.5', SEED_ALL, action({ confidence: 0.5 }), false],
    ['all: failed and 0.95', SEED_ALL, action({ status: 'failed', confidence: 0.95 }), false],
    ['any: pending', SEED_ANY, action(), true],
    ['any: processing', SEED_ANY, action({ status: 'processing' }), true],
    ['any: completed', SEED_ANY, action({ status: 'completed' }), false],
    ['not: pending is not rejected', SEED_NOT, action(), true],
    ['not: rejected', SEED_NOT, action({ status: 'rejected' }), false],
    ['nested: research pending', SEED_NESTED, action({ confidence: 0.1 }), true],
    ['nested: research processing 0.95', SEED_NESTED, action({ status: 'processing', confidence: 0.95 }), true],
    ['nested: research processing 0.9', SEED_NESTED, action({ status: 'processing', confidence: 0.9 }), false],
    ['nested: todo pending', SEED_NESTED, action({ type: 'todo' }), false],
    ['nested: research failed 0.99', SEED_NESTED, action({ status: 'failed', confidence: 0.99 }), false],
    ['type mapping approve-research: pending', SEED_APPROVE_RESEARCH, action(), true],
    ['type mapping delete: pending', SEED_DELETE, action(), false],
    ['type mapping delete: failed', SEED_DELETE, action({ status: 'failed' }), true],
  ])('%s', (_name, when, subject, expected) => {
    expect(run(when, subject)).toBe(expected);
  });
});

const eq = (value: unknown, field = 'v'): unknown => ({ field, op: 'eq', value });
const pred = (op: string, value?: unknown, field = 'v'): unknown => (value === undefined ? { field, op } : { field, op, value });

describe('eq / neq: strict equality, no coercion', () => {
  it.each([
    ['"0.8" is not 0.8', eq(0.8), { v: '0.8' }, false],
    ['0.8 is 0.8', eq(0.8), { v: 0.8 }, true],
    ['"true" is not true', eq(true), { v: 'true' }, false],
    ['0 is not false', eq(false), { v: 0 }, false],
    ['"" is not 0', eq(0), { v: '' }, false],
    ['-0 equals 0 (===)', eq(0), { v: -0 }, true],
    ['NaN never equals NaN', eq(Number.NaN), { v: Number.NaN }, false],
    ['null equals null', eq(null), { v: null }, true],
    ['missing is undefined, not null', eq(null), {}, false],
    ['arrays compare by identity', eq([1]), { v: [1] }, false],
    ['objects compare by identity', eq({ a: 1 }), { v: { a: 1 } }, false],
  ])('eq: %s', (_name, when, subject, expected) => {
    expect(run(when, subject)).toBe(expected);
  });

  it('eq with the very same object reference is true (=== semantics)', () => {
    const shared = { a: 1 };
    expect(run(eq(shared), { v: shared })).toBe(true);
  });

  it.each([
    ['missing field is not "x"', pred('neq', 'x'), {}, true],
    ['NaN is not NaN', pred('neq', Number.NaN), { v: Number.NaN }, true],
    ['"1" is not 1', pred('neq', 1), { v: '1' }, true],
    ['same value', pred('neq', 'a'), { v: 'a' }, false],
  ])('neq: %s', (_name, when, subject, expected) => {
    expect(run(when, subject)).toBe(expected);
  });
});

describe('gt / gte / lt / lte: numbers only', () => {
  it.each([
    ['gt', 5, 1, true],
    ['gt', 1, 1, false],
    ['gte', 1, 1, true],
    ['lt', 1, 1, false],
    ['lte', 1, 1, true],
    ['lt', -2.5, -2, true],
    ['gt', '5', 1, false],
    ['gt', null, -1, false],
    ['lt', null, 1, false],
    ['gt', true, 0, false],
    ['gt', undefined, 0, false],
    ['lt', undefined, 1, false],
    ['gt', Number.NaN, 0, false],
    ['lt', Number.NaN, 0, false],
    ['gt', Number.POSITIVE_INFINITY, 1e308, true],
    ['lte', [1], 5, false],
  ])('%s: field %s vs %s', (op, actual, value, expected) => {
    expect(run(pred(op, value), actual === undefined ? {} : { v: actual })).toBe(expected);
  });

  it.each([['gt'], ['gte'], ['lt'], ['lte']])('%s with a non-number value is malformed (false)', (op) => {
    expect(run(pred(op, '1'), { v: 5 })).toBe(false);
    expect(run(pred(op, Number.NaN), { v: 5 })).toBe(false);
    expect(run({ field: 'v', op }, { v: 5 })).toBe(false);
  });
});

describe('in / nin: array value, === membership', () => {
  const big = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 0, null, Number.NaN];
  it.each([
    ['in: member', pred('in', ['pending', 'processing']), { v: 'pending' }, true],
    ['in: not a member', pred('in', ['pending']), { v: 'failed' }, false],
    ['in: no coercion', pred('in', ['1']), { v: 1 }, false],
    ['in: NaN is never a member', pred('in', [Number.NaN]), { v: Number.NaN }, false],
    ['in: NaN is never a member of a long list', pred('in', big), { v: Number.NaN }, false],
    ['in: -0 matches 0 in a long list', pred('in', big), { v: -0 }, true],
    ['in: null is a member of [null]', pred('in', [null]), { v: null }, true],
    ['in: missing is not a member of [null]', pred('in', [null]), {}, false],
    ['in: long list member', pred('in', big), { v: 'j' }, true],
    ['in: long list non-member', pred('in', big), { v: 'z' }, false],
    ['in: empty list', pred('in', []), { v: 'a' }, false],
    ['in: array field is not a member', pred('in', ['ai']), { v: ['ai'] }, false],
    ['nin: non-member', pred('nin', ['failed', 'rejected']), { v: 'pending' }, true],
    ['nin: member', pred('nin', ['failed', 'rejected']), { v: 'failed' }, false],
    ['nin: missing field', pred('nin', ['a']), {}, true],
    ['nin: empty list', pred('nin', []), { v: 'a' }, true],
    ['nin: NaN is not in [NaN]', pred('nin', [Number.NaN]), { v: Number.NaN }, true],
    ['in: non-array value is false', pred('in', 'pending'), { v: 'pending' }, false],
    ['nin: non-array value is false too', pred('nin', 'x'), { v: 'pending' }, false],
    ['nin: missing value is false', pred('nin'), { v: 'pending' }, false],
  ])('%s', (_name, when, subject, expected) => {
    expect(run(when, subject)).toBe(expected);
  });
});

describe('exists', () => {
  it.each([
    ['0 exists', pred('exists'), { v: 0 }, true],
    ['false exists', pred('exists'), { v: false }, true],
    ['"" exists', pred('exists'), { v: '' }, true],
    ['NaN exists', pred('exists'), { v: Number.NaN }, true],
    ['null does not', pred('exists'), { v: null }, false],
    ['missing does not', pred('exists'), {}, false],
    ['value true, present', pred('exists', true), { v: 1 }, true],
    ['value true, missing', pred('exists', true), {}, false],
    ['value false, missing', pred('exists', false), {}, true],
    ['value false, present', pred('exists', false), { v: 1 }, false],
    ['non-boolean value is malformed', pred('exists', 'yes'), { v: 1 }, false],
    ['null value is malformed', pred('exists', null), { v: 1 }, false],
  ])('%s', (_name, when, subject, expected) => {
    expect(run(when, subject)).toBe(expected);
  });
});

describe('paths', () => {
  const subject = action();
  it.each([
    ['payload.tags.0', eq('ai', 'payload.tags.0'), true],
    ['payload.tags.1', eq('mqtt', 'payload.tags.1'), true],
    ['payload.tags.5 is undefined', pred('exists', undefined, 'payload.tags.5'), false],
    ['array length', eq(2, 'payload.tags.length'), true],
    ['string length', eq(11, 'title.length'), true],
    ['string index is not a path', pred('exists', undefined, 'title.0'), false],
    ['nested object', eq('n', 'payload.metadata.name'), true],
    ['through a missing object', pred('exists', undefined, 'payload.nothing.deeper'), false],
    ['through a number', pred('exists', undefined, 'confidence.x'), false],
    ['__proto__', pred('exists', undefined, '__proto__'), false],
    ['constructor', pred('exists', undefined, 'constructor'), false],
    ['toString', pred('exists', undefined, 'toString'), false],
    ['payload.__proto__', pred('exists', undefined, 'payload.__proto__'), false],
    ['payload.tags.constructor', pred('exists', undefined, 'payload.tags.constructor'), false],
    ['hasOwnProperty', pred('exists', undefined, 'hasOwnProperty'), false],
  ])('%s', (_name, when, expected) => {
    expect(run(when, subject)).toBe(expected);
  });

  it('reads own properties of null-prototype objects', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { status: 'pending' });
    expect(run(SEED_EQUALITY, bare)).toBe(true);
  });

  it('does not read inherited properties', () => {
    const child = Object.create({ status: 'pending' }) as Record<string, unknown>;
    expect(run(SEED_EQUALITY, child)).toBe(false);
  });

  it.each([
    ['null subject', null],
    ['undefined subject', undefined],
    ['string subject', 'pending'],
    ['number subject', 42],
  ])('a %s has no fields', (_name, subject) => {
    expect(run(SEED_EQUALITY, subject)).toBe(false);
    expect(run(SEED_EXISTS_FALSE, subject)).toBe(true);
  });
});

describe('logic', () => {
  it.each([
    ['all: [] is true', { all: [] }, true],
    ['any: [] is false', { any: [] }, false],
    ['not all: [] is false', { not: { all: [] } }, false],
    ['not any: [] is true', { not: { any: [] } }, true],
    ['undefined when is true', undefined, true],
  ])('%s', (_name, when, expected) => {
    expect(run(when, action())).toBe(expected);
  });

  it('short-circuits all on the first false', () => {
    const reads: string[] = [];
    const subject = {
      get a() {
        reads.push('a');
        return 1;
      },
      get b() {
        reads.push('b');
        return 2;
      },
    };
    const tree = { all: [eq(0, 'a'), eq(2, 'b')] };
    expect(evaluateCondition(tree, subject)).toBe(false);
    expect(compileCondition(tree)(subject)).toBe(false);
    expect(reads).toEqual(['a', 'a']);
  });

  it('short-circuits any on the first true', () => {
    const reads: string[] = [];
    const subject = {
      get a() {
        reads.push('a');
        return 1;
      },
      get b() {
        reads.push('b');
        return 2;
      },
    };
    const tree = { any: [eq(1, 'a'), eq(2, 'b')] };
    expect(evaluateCondition(tree, subject)).toBe(true);
    expect(compileCondition(tree, { codegen: true })(subject)).toBe(true);
    expect(reads).toEqual(['a', 'a']);
  });

  it('a throwing getter makes the condition false instead of throwing', () => {
    const subject = {
      get status(): string {
        throw new Error('boom');
      },
    };
    expect(run(SEED_EQUALITY, subject)).toBe(false);
    expect(run({ not: SEED_EQUALITY }, subject)).toBe(false);
  });
});

function nestAll(levels: number): unknown {
  let tree: unknown = { field: 'status', op: 'eq', value: 'pending' };
  for (let i = 0; i < levels; i++) tree = { all: [tree] };
  return tree;
}

describe('malformed trees evaluate to false', () => {
  const valid = { field: 'status', op: 'eq', value: 'pending' };
  it.each([
    ['null', null],
    ['a string', 'status == pending'],
    ['a number', 1],
    ['true', true],
    ['an array', [valid]],
    ['an empty object', {}],
    ['a non-array all', { all: valid }],
    ['a non-array any', { any: 'x' }],
    ['an unknown operator', { field: 'status', op: 'like', value: 'pending' }],
    ['a non-string operator', { field: 'status', op: 1, value: 'pending' }],
    ['a missing operator', { field: 'status', value: 'pending' }],
    ['both all and any', { all: [], any: [] }],
    ['all and a predicate', { all: [], ...valid }],
    ['an unknown key', { ...valid, label: 'x' }],
    ['an empty field', { field: '', op: 'exists' }],
    ['an empty path segment', { field: 'payload..prompt', op: 'exists' }],
    ['a trailing dot', { field: 'status.', op: 'exists' }],
    ['a non-string field', { field: 3, op: 'exists' }],
    ['eq without a value', { field: 'status', op: 'eq' }],
    ['eq with value undefined', { field: 'status', op: 'eq', value: undefined }],
    ['not of a malformed node (no double negation)', { not: { bogus: true } }],
    ['not of null', { not: null }],
    ['a malformed branch that short-circuit would skip', { any: [valid, { field: 'x', op: 'bogus' }] }],
    ['a hole in all', { all: [valid, undefined] }],
    ['an inherited all', Object.create({ all: [] }) as unknown],
    ['depth 33', nestAll(32)],
  ])('%s', (_name, when) => {
    expect(run(when, action())).toBe(false);
  });

  it('depth 32 is still evaluated', () => {
    expect(run(nestAll(31), action())).toBe(true);
  });

  it('a cyclic tree is rejected by the depth limit', () => {
    const cyclic: { not?: unknown } = {};
    cyclic.not = cyclic;
    expect(run(cyclic, action())).toBe(false);
  });
});
