import { describe, expect, it } from 'vitest';
import * as dsl from './index.js';

describe('public entry point', () => {
  it.each([
    ['evaluateCondition'],
    ['compileCondition'],
    ['validateCondition'],
    ['interpolate'],
    ['parseActionConfig'],
    ['visibleActions'],
    ['migrateLegacyConditions'],
  ])('exports %s as a function', (name) => {
    expect(typeof (dsl as Record<string, unknown>)[name]).toBe('function');
  });

  it('works end to end through the entry point', () => {
    const { config } = dsl.parseActionConfig({
      actions: { go: { trigger: { serviceId: 'svc', actionId: 'run' }, ui: { label: 'Go', variant: 'primary', icon: 'Play' } } },
      types: { t: { actions: [{ action: 'go', when: { field: 'ok', op: 'eq', value: true } }] } },
    });
    expect(config).not.toBeNull();
    if (config === null) return;
    expect(dsl.visibleActions(config, 't', { ok: true }).map((button) => button.trigger)).toEqual([{ serviceId: 'svc', actionId: 'run' }]);
    expect(dsl.visibleActions(config, 't', { ok: 'true' })).toEqual([]);
  });
});
