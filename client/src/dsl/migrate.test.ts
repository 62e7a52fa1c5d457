import { describe, expect, it } from 'vitest';
import { parseActionConfig } from './config.js';
import { evaluateCondition } from './evaluate.js';
import { migrateLegacyConditions, parseLegacyConditionString } from './migrate.js';

const OLD = `
actions:
  approve:
    endpoint: { path: '/router/actions/{actionId}', method: PATCH, body: { status: processing } }
    ui: { label: Approve, variant: primary, icon: Check }
types:
  research:
    actions:
      - action: approve
        conditions:
          - "status == 'pending'"
          - 'confidence > 0.8'
`;

describe('seed migration example', () => {
  it('converts the old string list into the documented all-tree', () => {
    const { config, issues } = migrateLegacyConditions(OLD);
    expect(issues).toEqual([]);
    const types = config?.types as Record<string, { actions: unknown[] }>;
    expect(types.research?.actions).toEqual([
      {
        action: 'approve',
        when: {
          all: [
            { field: 'status', op: 'eq', value: 'pending' },
            { field: 'confidence', op: 'gt', value: 0.8 },
          ],
        },
      },
    ]);
    // The legacy file is rejected as is, and accepted after migration.
    expect(parseActionConfig(OLD).issues.map((issue) => issue.code)).toEqual(['legacy_conditions']);
    expect(parseActionConfig(config).issues).toEqual([]);
  });

  it.each([
    [{ status: 'pending', confidence: 0.9 }, true],
    [{ status: 'pending', confidence: 0.8 }, false],
    [{ status: 'processing', confidence: 0.9 }, false],
  ])('the migrated tree keeps the meaning for %j', (subject, expected) => {
    const { config } = migrateLegacyConditions(OLD);
    const types = config?.types as Record<string, { actions: Array<{ when: unknown }> }>;
    expect(evaluateCondition(types.research?.actions[0]?.when, subject)).toBe(expected);
  });
});

describe('parseLegacyConditionString', () => {
  it.each([
    ["status == 'pending'", { field: 'status', op: 'eq', value: 'pending' }],
    ['status != "completed"', { field: 'status', op: 'neq', value: 'completed' }],
    ['confidence > 0.8', { field: 'confidence', op: 'gt', value: 0.8 }],
    ['confidence>=0.8', { field: 'confidence', op: 'gte', value: 0.8 }],
    ['confidence < .5', { field: 'confidence', op: 'lt', value: 0.5 }],
    ['delta <= -1.25', { field: 'delta', op: 'lte', value: -1.25 }],
    ['n == 1e3', { field: 'n', op: 'eq', value: 1000 }],
    ["status in ['pending', 'processing']", { field: 'status', op: 'in', value: ['pending', 'processing'] }],
    ["status not in ['failed', \"rejected\", 1, null, true]", { field: 'status', op: 'nin', value: ['failed', 'rejected', 1, null, true] }],
    ['status in []', { field: 'status', op: 'in', value: [] }],
    ['payload.prompt != null', { field: 'payload.prompt', op: 'neq', value: null }],
    ['payload.tags.0 == "ai"', { field: 'payload.tags.0', op: 'eq', value: 'ai' }],
    ['flag == false', { field: 'flag', op: 'eq', value: false }],
    ["title == 'it\\'s \\\"q\\\" \\u00e9\\n'", { field: 'title', op: 'eq', value: 'it\'s "q" é\n' }],
    ['  index  ==  "in"  ', { field: 'index', op: 'eq', value: 'in' }],
  ])('%s', (text, predicate) => {
    expect(parseLegacyConditionString(text)).toEqual({ predicate, error: null });
  });

  it.each([
    ['bad'],
    ['status = pending'],
    ['status == pending'],
    ["status == 'pending"],
    ["status == 'a' extra"],
    ["confidence > 'high'"],
    ["status in 'pending'"],
    ["status in ['a' 'b']"],
    ["status == ['a']"],
    ["status == 'bad \\x escape'"],
    [''],
    ['== 1'],
    ['a ==  '],
  ])('rejects %j', (text) => {
    const result = parseLegacyConditionString(text);
    expect(result.predicate).toBeNull();
    expect(result.error).toMatch(/column \d+/);
  });
});

describe('migrateLegacyConditions', () => {
  const legacy = (conditions: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    actions: { a: { endpoint: { path: '/x', method: 'GET' }, ui: { label: 'A', variant: 'primary', icon: 'I' } } },
    types: { t: { actions: [{ action: 'a', conditions, ...extra }] } },
  });
  const mapping = (config: Record<string, unknown> | null): unknown => (config?.types as Record<string, { actions: unknown[] }>).t?.actions[0];

  it('wraps a single condition in all, for uniformity', () => {
    expect(mapping(migrateLegacyConditions(legacy(["status == 'x'"])).config)).toEqual({
      action: 'a',
      when: { all: [{ field: 'status', op: 'eq', value: 'x' }] },
    });
  });

  it('combines an existing when with the conditions under all', () => {
    const when = { field: 'type', op: 'eq', value: 'research' };
    expect(mapping(migrateLegacyConditions(legacy(['n > 1'], { when })).config)).toEqual({
      action: 'a',
      when: { all: [when, { field: 'n', op: 'gt', value: 1 }] },
    });
  });

  it('drops an empty conditions list', () => {
    expect(mapping(migrateLegacyConditions(legacy([])).config)).toEqual({ action: 'a' });
  });

  it('migrates the fallback too', () => {
    const input = { actions: {}, types: {}, fallback: { actions: [{ action: 'a', conditions: ['x == 1'] }] } };
    const { config } = migrateLegacyConditions(input);
    expect(config?.fallback).toEqual({ actions: [{ action: 'a', when: { all: [{ field: 'x', op: 'eq', value: 1 }] } }] });
  });

  it('reports unparsable strings with their path and keeps that mapping unchanged', () => {
    const input = legacy(["status == 'ok'", 'status = broken', 3]);
    const { config, issues } = migrateLegacyConditions(input);
    expect(issues.map((issue) => [issue.path, issue.code])).toEqual([
      ['types.t.actions[0].conditions[1]', 'unparsable_condition'],
      ['types.t.actions[0].conditions[2]', 'invalid_condition'],
    ]);
    expect(mapping(config)).toEqual({ action: 'a', conditions: ["status == 'ok'", 'status = broken', 3] });
  });

  it('reports a conditions value that is not a list', () => {
    const { issues } = migrateLegacyConditions(legacy('status == 1'));
    expect(issues.map((issue) => [issue.path, issue.code])).toEqual([['types.t.actions[0].conditions', 'invalid_conditions']]);
  });

  it('does not mutate its input', () => {
    const input = legacy(["status == 'x'"]);
    const before = structuredClone(input);
    migrateLegacyConditions(input);
    expect(input).toEqual(before);
  });

  it.each([[null], [42], [[]], ['a: [']])('returns issues, not a throw, for %j', (input) => {
    const result = migrateLegacyConditions(input);
    expect(result.config).toBeNull();
    expect(result.issues[0]?.path).toBe('$');
  });
});
