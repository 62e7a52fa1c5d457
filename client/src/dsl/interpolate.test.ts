import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpolate } from './interpolate.js';

const action = {
  id: 'act-1',
  userId: 'user-1',
  commandId: 'cmd-1',
  type: 'research',
  confidence: 0.85,
  title: 'Find papers',
  status: 'pending',
  payload: { prompt: 'Find papers on MQTT', tags: ['ai', 'mqtt'], metadata: { name: 'Ada' }, count: 0, flag: false, nothing: null },
  createdAt: '2025-01-01T00:00:00Z',
  updatedAt: '2025-01-02T00:00:00Z',
};

describe('seed interpolation examples', () => {
  it.each([
    ["field: '{{action.fieldName}}' (missing → empty string)", '{{action.fieldName}}', ''],
    ['{{action.id}}', '{{action.id}}', 'act-1'],
    ['{{action.userId}}', '{{action.userId}}', 'user-1'],
    ['{{action.commandId}}', '{{action.commandId}}', 'cmd-1'],
    ['{{action.type}}', '{{action.type}}', 'research'],
    ['{{action.confidence}} (number → string)', '{{action.confidence}}', '0.85'],
    ['{{action.title}}', '{{action.title}}', 'Find papers'],
    ['{{action.status}}', '{{action.status}}', 'pending'],
    ['{{action.createdAt}}', '{{action.createdAt}}', '2025-01-01T00:00:00Z'],
    ['{{action.updatedAt}}', '{{action.updatedAt}}', '2025-01-02T00:00:00Z'],
    ['dot notation: payload.prompt', '{{action.payload.prompt}}', 'Find papers on MQTT'],
    ['dot notation: payload.metadata.name', '{{action.payload.metadata.name}}', 'Ada'],
    [
      'string interpolation',
      'Processing action {{action.id}} with confidence {{action.confidence}}',
      'Processing action act-1 with confidence 0.85',
    ],
  ])('%s', (_name, template, expected) => {
    expect(interpolate(template, action)).toBe(expected);
  });

  it('interpolates the seed draft body (example 3)', () => {
    const body = {
      prompt: '{{action.payload.prompt}}',
      metadata: { source: 'action', actionId: '{{action.id}}', confidence: '{{action.confidence}}' },
    };
    expect(interpolate(body, action)).toEqual({
      prompt: 'Find papers on MQTT',
      metadata: { source: 'action', actionId: 'act-1', confidence: '0.85' },
    });
  });
});

describe('string mode', () => {
  it.each([
    ['whitespace inside braces', '{{  action.id  }}', 'act-1'],
    ['without the action prefix', '{{id}}-{{ status }}', 'act-1-pending'],
    ['null → ""', '[{{payload.nothing}}]', '[]'],
    ['0 → "0"', '{{payload.count}}', '0'],
    ['false → "false"', '{{payload.flag}}', 'false'],
    ['array → JSON', '{{payload.tags}}', '["ai","mqtt"]'],
    ['object → JSON', '{{payload.metadata}}', '{"name":"Ada"}'],
    ['array index', '{{payload.tags.1}}', 'mqtt'],
    ['length', '{{payload.tags.length}}', '2'],
    ['prototype key → ""', '{{constructor}}{{action.__proto__}}{{toString}}', ''],
    ['malformed path → ""', '<{{a..b}}>', '<>'],
    ['not a placeholder stays', '{action.id} {{ action.id', '{action.id} {{ action.id'],
    ['repeated placeholders', '{{id}}{{id}}', 'act-1act-1'],
    ['no placeholders', 'plain', 'plain'],
  ])('%s', (_name, template, expected) => {
    expect(interpolate(template, action)).toBe(expected);
  });

  it('walks objects and arrays but leaves keys and non-string values alone', () => {
    const template = { '{{id}}': ['{{status}}', 1, true, null, { deep: '{{type}}' }] };
    expect(interpolate(template, action)).toEqual({ '{{id}}': ['pending', 1, true, null, { deep: 'research' }] });
  });

  it('does not mutate the template', () => {
    const template = { a: '{{id}}', b: ['{{status}}'] };
    const copy = structuredClone(template);
    interpolate(template, action);
    expect(template).toEqual(copy);
  });

  it('keeps a __proto__ key as an ordinary key', () => {
    const template = JSON.parse('{"__proto__": "{{id}}"}') as Record<string, unknown>;
    const out = interpolate(template, action) as Record<string, unknown>;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(out.__proto__).toBe('act-1');
  });

  it('guards against cycles in the template and in the subject', () => {
    const template: Record<string, unknown> = { a: '{{self}}' };
    template.loop = template;
    const subject: Record<string, unknown> = { id: 1 };
    subject.self = subject;
    expect(interpolate(template, subject)).toEqual({ a: '{"id":1,"self":"[Circular]"}', loop: null });
  });
});

describe('typed mode', () => {
  it.each([
    ['number keeps its type', '{{action.confidence}}', 0.85],
    ['boolean', '{{payload.flag}}', false],
    ['zero', '{{payload.count}}', 0],
    ['array', '{{payload.tags}}', ['ai', 'mqtt']],
    ['object', '{{payload.metadata}}', { name: 'Ada' }],
    ['null', '{{payload.nothing}}', null],
    ['undefined → null', '{{payload.missing}}', null],
    ['prototype key → null', '{{constructor}}', null],
    ['mixed text stays a string', 'c={{confidence}}', 'c=0.85'],
    ['surrounding spaces make it a string', ' {{confidence}} ', ' 0.85 '],
  ])('%s', (_name, template, expected) => {
    expect(interpolate({ v: template }, action, { typed: true })).toEqual({ v: expected });
  });

  it('hands out copies, not the subject objects', () => {
    const out = interpolate({ tags: '{{payload.tags}}' }, action, { typed: true }) as { tags: string[] };
    out.tags.push('x');
    expect(action.payload.tags).toEqual(['ai', 'mqtt']);
  });
});

describe('interpolate never throws', () => {
  it('on arbitrary templates and subjects, in both modes', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.boolean(), (template, subject, typed) => {
        const out = interpolate(template, subject, { typed });
        if (typeof template === 'string' && !typed) expect(typeof out).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('on random placeholder text', () => {
    const text = fc.stringMatching(/^[a-z{} ._0-9$-]{0,30}$/);
    fc.assert(
      fc.property(text, (template) => {
        expect(typeof interpolate(template, action)).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('with a throwing getter in the subject', () => {
    const subject = {
      get id(): string {
        throw new Error('boom');
      },
    };
    expect(interpolate('x{{id}}y', subject)).toBe('xy');
  });

  it('with BigInt and a throwing toJSON', () => {
    const subject = { big: 10n, bad: { toJSON: () => { throw new Error('no'); } }, nested: { big: 1n } };
    expect(interpolate('{{big}}|{{bad}}|{{nested}}', subject)).toBe('10||{"big":"1"}');
  });

  it('limits template nesting', () => {
    let template: unknown = '{{id}}';
    for (let i = 0; i < 40; i++) template = [template];
    let out = interpolate(template, action) as unknown;
    let depth = 0;
    while (Array.isArray(out)) {
      out = out[0];
      depth++;
    }
    expect(depth).toBe(32);
    expect(out).toBeNull();
  });
});
