import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createExecutionMemo, type SharingInput, sharingKey } from './shared-execution.js';

const document = parse('subscription S($runId: ID!) { runEvents(runId: $runId) { seq } }');
const base: SharingInput = { document, operationName: 'S', variableValues: { runId: 'r1' }, scope: { tenant: 't1', scopes: new Set(['runs:read', 'actions:trigger']) } };

describe('sharingKey', () => {
  it('is the same for the same document, operation, variables, tenant and scopes (in any order)', () => {
    expect(sharingKey({ ...base, scope: { tenant: 't1', scopes: ['actions:trigger', 'runs:read'] } })).toBe(sharingKey(base));
  });

  it('differs when the tenant, the scopes, the variables, the operation or the document differ', () => {
    const key = sharingKey(base);
    expect(sharingKey({ ...base, scope: { tenant: 't2', scopes: base.scope.scopes } })).not.toBe(key);
    expect(sharingKey({ ...base, scope: { tenant: 't1', scopes: ['runs:read'] } })).not.toBe(key);
    expect(sharingKey({ ...base, variableValues: { runId: 'r2' } })).not.toBe(key);
    expect(sharingKey({ ...base, variableValues: null })).not.toBe(key);
    expect(sharingKey({ ...base, operationName: null })).not.toBe(key);
    expect(sharingKey({ ...base, document: parse('subscription S($runId: ID!) { runEvents(runId: $runId) { seq } }') })).not.toBe(key);
  });

  it('cannot be forged by a tenant name that looks like JSON', () => {
    const a = sharingKey({ ...base, scope: { tenant: 't1","x', scopes: [] } });
    const b = sharingKey({ ...base, scope: { tenant: 't1', scopes: ['x'] } });
    expect(a).not.toBe(b);
  });
});

describe('createExecutionMemo', () => {
  it('computes once per payload object and key', () => {
    const memo = createExecutionMemo<{ n: number }>();
    let calls = 0;
    const compute = () => ({ n: ++calls });
    const event = { seq: 1 };
    const first = memo.get(event, 'k1', compute);
    expect(memo.get(event, 'k1', compute)).toBe(first);
    expect(calls).toBe(1);
    expect(memo.get(event, 'k2', compute)).not.toBe(first);
    expect(memo.get({ seq: 1 }, 'k1', compute)).not.toBe(first);
    expect(calls).toBe(3);
  });

  it('does not cache payloads that are not objects, nor a computation that throws', () => {
    const memo = createExecutionMemo<number>();
    let calls = 0;
    expect(memo.get('event', 'k', () => ++calls)).toBe(1);
    expect(memo.get('event', 'k', () => ++calls)).toBe(2);
    const event = {};
    expect(() =>
      memo.get(event, 'k', () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(memo.get(event, 'k', () => 7)).toBe(7);
  });
});
