import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseActionConfig } from './config.js';
import { MAX_ACTIONS, MAX_TYPES } from './limits.js';

const ui = { label: 'Approve', variant: 'primary', icon: 'Check' };
const endpoint = { path: '/router/actions/{actionId}', method: 'PATCH' };
const base = (): Record<string, unknown> => ({
  actions: { approve: { endpoint, ui } },
  types: { research: { actions: [{ action: 'approve', when: { field: 'status', op: 'eq', value: 'pending' } }] } },
});

/** [path, code, severity] triples, the shape asserted below. */
function summary(input: unknown): Array<[string, string, string]> {
  return parseActionConfig(input).issues.map((issue) => [issue.path, issue.code, issue.severity ?? 'error']);
}

describe('parseActionConfig: valid input', () => {
  it('accepts an object', () => {
    const result = parseActionConfig(base());
    expect(result.issues).toEqual([]);
    expect(result.config?.actions.approve?.ui).toEqual(ui);
  });

  it('accepts PUT, the success variant, confirmationMessage and a fallback', () => {
    const input = {
      actions: {
        save: { endpoint: { path: '/x/{{action.id}}', method: 'PUT', body: { a: ['{{payload.tags.0}}'] } }, ui: { ...ui, variant: 'success', confirmationMessage: 'Sure?' } },
        run: { trigger: { serviceId: 'svc_1', actionId: '{{ action.payload.next }}', input: { n: '{{confidence}}' } }, ui },
      },
      types: {},
      fallback: { actions: [{ action: 'save' }, { action: 'run', when: { field: 'id', op: 'exists' } }] },
    };
    const result = parseActionConfig(input);
    expect(result.issues).toEqual([]);
    expect(result.config?.fallback?.actions).toHaveLength(2);
  });

  it('keeps the config but warns about unknown keys', () => {
    const input = base();
    input.version = 2;
    (input.actions as Record<string, Record<string, unknown>>).approve = { endpoint: { ...endpoint, timeout: 5 }, ui: { ...ui, color: 'red' }, note: 'x' };
    const result = parseActionConfig(input);
    expect(result.config).not.toBeNull();
    expect(summary(input)).toEqual([
      ['version', 'unknown_key', 'warning'],
      ['actions.approve.note', 'unknown_key', 'warning'],
      ['actions.approve.endpoint.timeout', 'unknown_key', 'warning'],
      ['actions.approve.ui.color', 'unknown_key', 'warning'],
    ]);
  });
});

describe('parseActionConfig: every issue with its path', () => {
  it.each([
    ['null', null, [['$', 'invalid_type', 'error']]],
    ['an array', [], [['$', 'invalid_type', 'error']]],
    ['a number', 7, [['$', 'invalid_type', 'error']]],
    ['an empty object', {}, [['actions', 'required', 'error'], ['types', 'required', 'error']]],
    ['actions as a list', { actions: [], types: {} }, [['actions', 'invalid_type', 'error']]],
    ['an empty type name', { actions: {}, types: { '': { actions: [] } } }, [['types[""]', 'invalid_key', 'error']]],
  ])('%s', (_name, input, expected) => {
    expect(summary(input)).toEqual(expected);
    expect(parseActionConfig(input).config).toBeNull();
  });

  it('reports all problems of a broken file at once', () => {
    const input = {
      actions: {
        approve: { endpoint: { path: '', method: 'FETCH' }, ui: { label: 'A', variant: 'loud', icon: 1 } },
        both: { endpoint, trigger: { serviceId: 'svc', actionId: 'go' }, ui },
        neither: { ui },
        bad_ids: { trigger: { serviceId: 'has space', actionId: '{{a..b}}', input: { x: '{{ payload.__proto__ }}' } }, ui },
        bad_body: { endpoint: { path: '/a/{{a b}}', method: 'POST', body: { deep: ['{{constructor}}'] } }, ui },
        __proto__: { endpoint, ui },
      },
      types: {
        research: {
          actions: [
            { action: 'approve', when: { all: [{ field: 'status', op: 'eq', value: 'pending' }, { field: 'x', op: 'like' }] } },
            { action: 'toString' },
            { action: 'approve', conditions: ["status == 'pending'"] },
            'approve',
          ],
        },
        constructor: { actions: [] },
        todo: { actions: {} },
      },
      fallback: { actions: [{ action: 'missing' }] },
    };
    // Build __proto__ as an own key, as JSON.parse or YAML would.
    const actions = input.actions as Record<string, unknown>;
    Object.defineProperty(actions, '__proto__', { value: { endpoint, ui }, enumerable: true });
    expect(summary(input)).toEqual([
      ['actions.approve.endpoint.path', 'empty', 'error'],
      ['actions.approve.endpoint.method', 'invalid_value', 'error'],
      ['actions.approve.ui.variant', 'invalid_value', 'error'],
      ['actions.approve.ui.icon', 'invalid_type', 'error'],
      ['actions.bad_ids.trigger.serviceId', 'invalid_id', 'error'],
      ['actions.bad_ids.trigger.actionId', 'invalid_id', 'error'],
      ['types.research.actions[3]', 'invalid_type', 'error'],
      ['types.todo.actions', 'invalid_type', 'error'],
      ['actions.both', 'endpoint_and_trigger', 'error'],
      ['actions.neither', 'missing_endpoint_or_trigger', 'error'],
      ['actions.bad_ids.trigger.input.x', 'invalid_placeholder', 'error'],
      ['actions.bad_body.endpoint.path', 'invalid_placeholder', 'error'],
      ['actions.bad_body.endpoint.body.deep[0]', 'invalid_placeholder', 'error'],
      ['actions.__proto__', 'reserved_key', 'error'],
      ['types.research.actions[0].when.all[1].op', 'unknown_operator', 'error'],
      ['types.research.actions[1].action', 'unknown_action', 'error'],
      ['types.research.actions[2].conditions', 'legacy_conditions', 'error'],
      ['types.constructor', 'reserved_key', 'error'],
      ['fallback.actions[0].action', 'unknown_action', 'error'],
    ]);
    const legacy = parseActionConfig(input).issues.find((issue) => issue.code === 'legacy_conditions');
    expect(legacy?.message).toContain('migrateLegacyConditions');
  });

  it.each([['toString'], ['constructor'], ['hasOwnProperty'], ['__proto__']])('does not treat %s as a defined action', (name) => {
    const input = { actions: {}, types: { t: { actions: [{ action: name }] } } };
    expect(summary(input)).toContainEqual(['types.t.actions[0].action', 'unknown_action', 'error']);
  });

  it('re-roots condition issues at the mapping path in YAML too', () => {
    const yaml = `
actions:
  a: { endpoint: { path: /x, method: GET }, ui: { label: A, variant: primary, icon: I } }
types:
  research:
    actions:
      - action: a
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: confidence, op: gt, value: "0.8" }
`;
    expect(summary(yaml)).toEqual([['types.research.actions[0].when.all[1].value', 'invalid_value', 'error']]);
  });
});

describe('parseActionConfig: YAML text and limits', () => {
  it('reports a syntax error at $ instead of throwing', () => {
    const result = parseActionConfig('actions: [1\ntypes: {');
    expect(result.config).toBeNull();
    expect(result.issues[0]).toMatchObject({ path: '$', code: 'yaml_syntax' });
  });

  it('rejects an empty document', () => {
    expect(summary('')).toEqual([['$', 'invalid_type', 'error']]);
  });

  it('rejects text over 1 MiB', () => {
    expect(summary(`# ${'x'.repeat(1024 * 1024)}`)).toEqual([['$', 'too_large', 'error']]);
  });

  it('limits alias expansion', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]'].join('\n');
    const result = parseActionConfig(bomb);
    expect(result.config).toBeNull();
    expect(result.issues[0]?.path).toBe('$');
  });

  it('reports duplicate keys', () => {
    expect(parseActionConfig('actions: {}\nactions: {}\ntypes: {}').issues[0]).toMatchObject({ path: '$', code: 'yaml_syntax' });
  });

  it('keeps a YAML __proto__ key as data and rejects it as an action id', () => {
    const result = parseActionConfig('actions:\n  __proto__: { endpoint: { path: /x, method: GET }, ui: { label: A, variant: primary, icon: I } }\ntypes: {}');
    expect(result.issues).toContainEqual(expect.objectContaining({ path: 'actions.__proto__', code: 'reserved_key' }));
    expect(({} as Record<string, unknown>).endpoint).toBeUndefined();
  });

  it.each([
    ['actions', MAX_ACTIONS + 1, 'too_many_actions'],
    ['types', MAX_TYPES + 1, 'too_many_types'],
  ])('limits %s to 1000', (section, count, code) => {
    const many = Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, {}]));
    const input = { actions: {}, types: {}, [section]: many };
    expect(summary(input)).toEqual([[section, code, 'error']]);
  });

  it('limits mappings per type', () => {
    const input = { actions: {}, types: { t: { actions: Array.from({ length: 1001 }, () => ({ action: 'a' })) } } };
    expect(summary(input)).toEqual([['types.t.actions', 'too_many_mappings', 'error']]);
  });

  it('rejects templates nested deeper than 32 levels and cyclic templates', () => {
    let body: unknown = '{{id}}';
    for (let i = 0; i < 33; i++) body = { n: body };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const input = {
      actions: { deep: { endpoint: { path: '/x', method: 'POST', body }, ui }, loop: { endpoint: { path: '/y', method: 'POST', body: cyclic }, ui } },
      types: {},
    };
    expect(summary(input).map(([, code]) => code)).toEqual(['max_depth', 'cycle']);
  });
});

describe('parseActionConfig never throws', () => {
  const check = (input: unknown): void => {
    const result = parseActionConfig(input);
    expect(Array.isArray(result.issues)).toBe(true);
    const hasError = result.issues.some((issue) => issue.severity !== 'warning');
    // config is non-null exactly when no issue is an error (and the input was usable at all).
    if (hasError) expect(result.config).toBeNull();
    else expect(result.config).not.toBeNull();
  };

  it('on fc.anything()', () => {
    fc.assert(fc.property(fc.anything(), check), { numRuns: 2000 });
  });

  it('on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 });
  });

  it('on YAML-shaped random text', () => {
    const token = fc.constantFrom('actions:', 'types:', '\n', '  ', '- ', 'action: a', 'when:', '{', '}', '[', ']', ',', '&a ', '*a', '"', "'", 'op: eq', 'field: x', ': ', '#', '{{id}}');
    fc.assert(fc.property(fc.array(token, { maxLength: 40 }).map((parts) => parts.join('')), check), { numRuns: 2000 });
  });

  it('on configs with random values in every slot', () => {
    const slot = fc.anything({ maxDepth: 2 });
    const config = fc.record({
      actions: fc.dictionary(fc.string({ maxLength: 5 }), fc.record({ endpoint: fc.record({ path: slot, method: slot, body: slot }), trigger: slot, ui: slot }, { requiredKeys: [] })),
      types: fc.dictionary(fc.string({ maxLength: 5 }), fc.record({ actions: fc.array(fc.record({ action: slot, when: slot, conditions: slot }, { requiredKeys: [] })) })),
      fallback: slot,
    }, { requiredKeys: [] });
    fc.assert(fc.property(config, check), { numRuns: 2000 });
  });
});
