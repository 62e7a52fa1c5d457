import { describe, expect, it } from 'vitest';
import { createRunVersions, type VersionedRun } from './versions.js';

const run = (id: string, state: string, version = '1') => ({ id, state, version }) as unknown as VersionedRun;

describe('run versions', () => {
  it.each([
    ['requested', true],
    ['dispatched', true],
    ['running', true],
    ['succeeded', false],
    ['failed', false],
    ['cancelled', false],
    ['timed_out', false],
  ])('keeps a run in state %s: %s', (state, kept) => {
    const versions = createRunVersions();
    versions.remember(run('r1', 'requested', '1'));
    versions.remember(run('r1', state, '2'));
    expect(versions.get('r1')?.version).toBe(kept ? '2' : undefined);
  });

  it('forgets on request and drops the oldest write past its limit', () => {
    const versions = createRunVersions(2);
    versions.remember(run('a', 'running'));
    versions.remember(run('b', 'running'));
    versions.remember(run('a', 'running', '2'));
    versions.remember(run('c', 'running'));
    expect([versions.get('a')?.version, versions.get('b'), versions.get('c')?.version]).toEqual(['2', undefined, '1']);
    versions.forget('a');
    expect(versions.get('a')).toBeUndefined();
    expect(versions.size).toBe(1);
  });
});
