import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCondition } from './compile.js';
import { evaluateCondition } from './evaluate.js';
import { isWellFormed, validateCondition } from './validate.js';

const FIELDS = [
  'status',
  'type',
  'confidence',
  'title',
  'title.length',
  'payload.prompt',
  'payload.tags',
  'payload.tags.0',
  'payload.tags.length',
  'payload.metadata.score',
  'missing.deep',
  '__proto__',
  'constructor',
  'toString',
  'a..b',
  '',
];
const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'exists', 'bogus'];

const scalar = fc.oneof(
  fc.constantFrom('pending', 'processing', 'failed', 'research', 'todo', '0.8', '', 'ai'),
  fc.constantFrom(0, -0, 0.5, 0.8, 0.9, 1, 2, Number.NaN, Number.POSITIVE_INFINITY),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
// Lists cross the Set threshold (8) so both membership strategies are exercised.
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 12 }), fc.object({ maxDepth: 1 }));

const predicate = fc.record(
  { field: fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 6 }), fc.integer()), op: fc.oneof(fc.constantFrom(...OPS), fc.anything()), value },
  { requiredKeys: [] },
);

const GOOD_FIELDS = FIELDS.filter((field) => field !== '' && field !== 'a..b');
/** Predicates that are mostly well formed, so that evaluation is exercised and not only rejection. */
const goodPredicate = fc.oneof(
  fc.record({ field: fc.constantFrom(...GOOD_FIELDS), op: fc.constantFrom('eq', 'neq'), value: scalar.filter((v) => v !== undefined) }),
  fc.record({ field: fc.constantFrom(...GOOD_FIELDS), op: fc.constantFrom('gt', 'gte', 'lt', 'lte'), value: fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, 0.5, 0.8, 0.9, 2)) }),
  fc.record({ field: fc.constantFrom(...GOOD_FIELDS), op: fc.constantFrom('in', 'nin'), value: fc.array(scalar, { maxLength: 12 }) }),
  fc.record({ field: fc.constantFrom(...GOOD_FIELDS), op: fc.constant('exists'), value: fc.boolean() }, { requiredKeys: ['field', 'op'] }),
);

const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    goodPredicate,
    goodPredicate,
    goodPredicate,
    predicate,
    fc.record({ all: fc.array(tie('tree'), { maxLength: 4 }) }),
    fc.record({ any: fc.array(tie('tree'), { maxLength: 4 }) }),
    fc.record({ not: tie('tree') }),
    // Malformed shapes.
    fc.record({ all: tie('tree'), any: fc.array(tie('tree'), { maxLength: 2 }) }, { requiredKeys: [] }),
    fc.record({ not: tie('tree'), extra: fc.anything() }),
    fc.anything({ maxDepth: 2 }),
  ),
}));

const actionSubject = fc.record(
  {
    id: fc.string(),
    type: fc.constantFrom('research', 'todo', 'note'),
    status: fc.constantFrom('pending', 'processing', 'failed', 'completed'),
    confidence: fc.oneof(fc.double({ min: 0, max: 1 }), fc.constantFrom(0.8, 0.9, '0.8', Number.NaN, null)),
    title: fc.string(),
    payload: fc.record(
      {
        prompt: fc.oneof(fc.string(), fc.constant(null)),
        tags: fc.array(fc.constantFrom('ai', 'mqtt', '', 'pending'), { maxLength: 3 }),
        metadata: fc.record({ score: fc.oneof(fc.double(), fc.integer()) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const subject = fc.oneof(actionSubject, actionSubject, fc.anything());

describe('compileCondition', () => {
  it('matches evaluateCondition on random trees and subjects (closure and codegen modes)', () => {
    fc.assert(
      fc.property(tree, subject, (when, s) => {
        const expected = evaluateCondition(when, s);
        expect(compileCondition(when)(s)).toBe(expected);
        expect(compileCondition(when, { codegen: true })(s)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('compiles malformed trees to a constant false and undefined to true', () => {
    expect(compileCondition(null)({})).toBe(false);
    expect(compileCondition({ all: 'x' })({})).toBe(false);
    expect(compileCondition(undefined)({})).toBe(true);
    expect(compileCondition(undefined, { codegen: true })(null)).toBe(true);
  });

  it('snapshots the tree: later mutation does not change the compiled function', () => {
    const when = { field: 'status', op: 'in', value: ['pending'] };
    const compiled = compileCondition(when);
    when.value.push('failed');
    expect(compiled({ status: 'failed' })).toBe(false);
    expect(evaluateCondition(when, { status: 'failed' })).toBe(true);
  });

  it('codegen never inlines configuration text as code', () => {
    const hostile = '"); throw new Error("injected"); ("';
    const when = { all: [{ field: `a.${hostile}`, op: 'eq', value: hostile }, { field: 'b', op: 'in', value: [hostile, '\u2028'] }] };
    const compiled = compileCondition(when, { codegen: true });
    expect(compiled({ a: { [hostile]: hostile }, b: '\u2028' })).toBe(true);
    expect(compiled({ a: { [hostile]: 'x' }, b: '\u2028' })).toBe(false);
  });
});

describe('validateCondition agrees with evaluation', () => {
  it('a tree is well formed exactly when it has no error-severity issue', () => {
    fc.assert(
      fc.property(tree, (when) => {
        const errors = validateCondition(when).filter((issue) => issue.severity !== 'warning');
        expect(isWellFormed(when)).toBe(errors.length === 0);
        if (errors.length > 0) expect(evaluateCondition(when, {})).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
