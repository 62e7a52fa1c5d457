import { describe, expect, it } from 'vitest';
import { validateCondition } from './validate.js';

function nestNot(levels: number): unknown {
  let tree: unknown = { field: 'status', op: 'exists' };
  for (let i = 0; i < levels; i++) tree = { not: tree };
  return tree;
}

describe('validateCondition', () => {
  it.each([
    ['undefined (always true)', undefined],
    ['seed equality', { field: 'status', op: 'eq', value: 'pending' }],
    ['seed exists without value', { field: 'payload.prompt', op: 'exists' }],
    ['seed exists false', { field: 'payload.optional', op: 'exists', value: false }],
    ['seed membership', { field: 'status', op: 'in', value: ['pending', 'processing'] }],
    ['empty all', { all: [] }],
    ['empty any', { any: [] }],
    ['eq null', { field: 'status', op: 'eq', value: null }],
    ['depth 32', nestNot(31)],
  ])('accepts %s', (_name, when) => {
    expect(validateCondition(when)).toEqual([]);
  });

  it.each([
    ['null', null, [['when', 'invalid_node']]],
    ['a string', 'status == x', [['when', 'invalid_node']]],
    ['an array', [], [['when', 'invalid_node']]],
    ['an empty object', {}, [['when', 'empty_node']]],
    ['unknown keys only', { foo: 1 }, [['when', 'empty_node'], ['when.foo', 'unknown_key']]],
    ['both all and any', { all: [], any: [] }, [['when', 'ambiguous_node']]],
    ['not and a predicate', { not: {}, field: 'a', op: 'exists' }, [['when', 'ambiguous_node']]],
    ['non-array all', { all: {} }, [['when.all', 'invalid_children']]],
    ['unknown operator', { all: [{ field: 'a', op: 'eq', value: 1 }, { field: 'a', op: 'like', value: 1 }] }, [['when.all[1].op', 'unknown_operator']]],
    ['missing operator', { field: 'a' }, [['when.op', 'missing_op']]],
    ['missing field', { op: 'exists' }, [['when.field', 'missing_field']]],
    ['non-string field', { field: 1, op: 'exists' }, [['when.field', 'invalid_field']]],
    ['empty field', { field: '', op: 'exists' }, [['when.field', 'invalid_field']]],
    ['empty segment', { field: 'a..b', op: 'exists' }, [['when.field', 'invalid_path']]],
    ['in without array', { field: 'a', op: 'in', value: 'x' }, [['when.value', 'invalid_value']]],
    ['nin without value', { field: 'a', op: 'nin' }, [['when.value', 'missing_value']]],
    ['exists with a string', { field: 'a', op: 'exists', value: 'yes' }, [['when.value', 'invalid_value']]],
    ['gt with a string', { field: 'a', op: 'gt', value: '0.8' }, [['when.value', 'invalid_value']]],
    ['lte with NaN', { field: 'a', op: 'lte', value: Number.NaN }, [['when.value', 'invalid_value']]],
    ['lt without value', { field: 'a', op: 'lt' }, [['when.value', 'missing_value']]],
    ['eq without value', { field: 'a', op: 'eq' }, [['when.value', 'missing_value']]],
    ['unknown key in a predicate', { field: 'a', op: 'exists', label: 'x' }, [['when.label', 'unknown_key']]],
    ['unknown key in all', { all: [], note: 1 }, [['when.note', 'unknown_key']]],
    ['a hole in any', { any: [undefined] }, [['when.any[0]', 'invalid_node']]],
    ['depth 33', nestNot(32), [[`when${'.not'.repeat(32)}`, 'max_depth']]],
    [
      'several problems at once',
      { all: [{ field: 'a..b', op: 'bogus' }, { not: null }, { any: [{ field: 'x', op: 'in' }] }] },
      [
        ['when.all[0].field', 'invalid_path'],
        ['when.all[0].op', 'unknown_operator'],
        ['when.all[1].not', 'invalid_node'],
        ['when.all[2].any[0].value', 'missing_value'],
      ],
    ],
  ])('reports %s', (_name, when, expected) => {
    const errors = validateCondition(when).filter((issue) => issue.severity !== 'warning');
    expect(errors.map((issue) => [issue.path, issue.code])).toEqual(expected);
    for (const issue of errors) expect(issue.message.length).toBeGreaterThan(0);
  });

  it.each([
    ['prototype key in a field', { field: 'payload.__proto__', op: 'exists' }, 'when.field', 'prototype_key'],
    ['eq with an object value', { field: 'a', op: 'eq', value: [1] }, 'when.value', 'identity_comparison'],
  ])('warns about %s', (_name, when, path, code) => {
    expect(validateCondition(when)).toEqual([expect.objectContaining({ path, code, severity: 'warning' })]);
  });

  it('stops at the depth limit on cyclic trees', () => {
    const cyclic: { all: unknown[] } = { all: [] };
    cyclic.all.push(cyclic);
    const issues = validateCondition(cyclic);
    expect(issues).toHaveLength(1);
    expect(issues[0]?.code).toBe('max_depth');
  });

  it('ignores inherited keys', () => {
    const inherited = Object.create({ all: [] }) as object;
    expect(validateCondition(inherited).map((issue) => issue.code)).toEqual(['empty_node']);
  });
});
