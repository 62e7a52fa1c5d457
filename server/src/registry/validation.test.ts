// Pure validation rules that JSON cannot carry over the wire (non-finite
// numbers) and the order in which rules fire.
import { describe, expect, it } from 'vitest';
import { normaliseSpec, validateDefinitionPatch, validateNewDefinition, type ValidationContext } from './validation.js';

const ctx: ValidationContext = { repoRoot: '/repo', defaultModel: 'model-x', realPath: (p) => p };

describe('numbers', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('timeout_s %s is invalid_timeout_s', (timeout) => {
    expect(normaliseSpec('prompt', { prompt: 'x', timeout_s: timeout }, ctx)).toMatchObject({ ok: false, error: { code: 'invalid_timeout_s', field: 'spec.timeout_s' } });
    expect(normaliseSpec('command', { cmd: 'x', timeout_s: timeout }, ctx)).toMatchObject({ ok: false, error: { code: 'invalid_timeout_s' } });
  });

  it.each([
    { kind: 'prompt' as const, given: 4.5, stored: 5 },
    { kind: 'prompt' as const, given: 12.5, stored: 12.5 },
    { kind: 'command' as const, given: -1, stored: 1 },
    { kind: 'command' as const, given: 3601, stored: 3600 },
  ])('$kind timeout_s $given is stored as $stored', ({ kind, given, stored }) => {
    const spec = kind === 'prompt' ? { prompt: 'x', timeout_s: given } : { cmd: 'x', timeout_s: given };
    const result = normaliseSpec(kind, spec, ctx);
    expect(result.ok && result.value.timeout_s).toBe(stored);
  });
});

describe('defaults', () => {
  it('takes the model default from the context', () => {
    const result = normaliseSpec('prompt', { prompt: 'x' }, ctx);
    expect(result).toEqual({ ok: true, value: { prompt: 'x', agent: 'codex', model: 'model-x', reasoning: 'medium', timeout_s: 45 } });
  });
});

describe('rule order: the first failure wins', () => {
  it.each([
    { body: { title: '', kind: 'nope', spec: 1, enabled: 'x' }, code: 'invalid_title' },
    { body: { title: 'ok', kind: 'nope', spec: 1, enabled: 'x' }, code: 'invalid_kind' },
    { body: { title: 'ok', kind: 'prompt', spec: 1, enabled: 'x' }, code: 'invalid_spec' },
    { body: { title: 'ok', kind: 'prompt', spec: {}, enabled: 'x' }, code: 'invalid_enabled' },
    { body: { title: 'ok', kind: 'prompt', spec: { agent: '' } }, code: 'invalid_prompt' },
    { body: { title: 'ok', kind: 'prompt', spec: { prompt: 'p', agent: '', model: '' } }, code: 'invalid_agent' },
    { body: { title: 'ok', kind: 'prompt', spec: { prompt: 'p', model: '', reasoning: 'x' } }, code: 'invalid_model' },
    { body: { title: 'ok', kind: 'prompt', spec: { prompt: 'p', reasoning: 'x', timeout_s: 'x' } }, code: 'invalid_reasoning' },
    { body: { title: 'ok', kind: 'command', spec: { shell: 'zsh' } }, code: 'invalid_cmd' },
    { body: { title: 'ok', kind: 'command', spec: { cmd: 'c', shell: 'zsh', cwd: '/' } }, code: 'invalid_shell' },
    { body: { title: 'ok', kind: 'command', spec: { cmd: 'c', cwd: '/', timeout_s: 'x' } }, code: 'invalid_cwd' },
  ])('$code', ({ body, code }) => {
    const result = validateNewDefinition(body, ctx);
    expect(result.ok ? null : result.error.code).toBe(code);
  });

  it('an update checks title, kind, spec, enabled, then spec fields', () => {
    const stored = { kind: 'prompt' as const, spec: { prompt: 'x', agent: 'codex', model: 'm', reasoning: 'low', timeout_s: 45 } };
    const codeOf = (body: unknown) => {
      const r = validateDefinitionPatch(body, stored, ctx);
      return r.ok ? null : r.error.code;
    };
    expect(codeOf({ title: '', kind: 'command' })).toBe('invalid_title');
    expect(codeOf({ kind: 'command', spec: 1 })).toBe('kind_change_not_allowed');
    expect(codeOf({ spec: 1, enabled: 1 })).toBe('invalid_spec');
    expect(codeOf({ spec: { reasoning: 'no' }, enabled: 1 })).toBe('invalid_enabled');
    expect(codeOf({ spec: { reasoning: 'no' } })).toBe('invalid_reasoning');
  });

  it('never lets a spec key reach the prototype', () => {
    const stored = { kind: 'prompt' as const, spec: { prompt: 'x', agent: 'codex', model: 'm', reasoning: 'low', timeout_s: 45 } };
    const patch = JSON.parse('{"spec": {"__proto__": {"polluted": true}, "constructor": 1}}') as unknown;
    const result = validateDefinitionPatch(patch, stored, ctx);
    expect(result.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(result.ok && Object.keys(result.value.spec!)).toEqual(['agent', 'model', 'reasoning', 'timeout_s', 'prompt']);
  });
});
