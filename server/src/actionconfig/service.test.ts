import { parseActionConfig, visibleActions } from '@synapse-gateway/client/dsl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { checkSubject, createActionConfigService, judgeParse, MAX_SUBJECT_BYTES, subjectBytes } from './service.js';

const YAML = `
actions:
  approve:
    endpoint: { path: '/router/actions/{actionId}', method: PATCH, body: { status: processing } }
    ui: { label: Approve, variant: primary, icon: Check }
types:
  research:
    actions:
      - action: approve
        when: { field: status, op: eq, value: pending }
`;

describe('subject limits', () => {
  it('measures UTF-8 JSON bytes', () => {
    expect(subjectBytes({ a: 1 })).toBe(7);
    expect(subjectBytes('é'.repeat(30_000))).toBe(60_002);
    expect(subjectBytes(undefined)).toBe(4);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(subjectBytes(cyclic)).toBeNull();
  });

  it('accepts 64 KiB and refuses one byte more', () => {
    const at = (n: number) => 'x'.repeat(n - 2); // a JSON string adds two quotes
    expect(checkSubject(at(MAX_SUBJECT_BYTES)).ok).toBe(true);
    const over = checkSubject(at(MAX_SUBJECT_BYTES + 1));
    expect(over).toMatchObject({ ok: false, error: { code: 'subject_too_large', field: 'subject' } });
  });
});

describe('judgeParse', () => {
  it('rejects with every issue and an explicit severity', () => {
    const parsed = parseActionConfig('actions: {}\ntypes:\n  t:\n    extra: 1\n    actions: [{ action: nope }]\n');
    const judged = judgeParse(parsed.issues, parsed.config);
    expect(judged.ok).toBe(false);
    if (judged.ok) return;
    expect(judged.error.code).toBe('invalid_action_config');
    expect(judged.error.issues).toEqual([
      { path: 'types.t.extra', code: 'unknown_key', message: expect.any(String), severity: 'warning' },
      { path: 'types.t.actions[0].action', code: 'unknown_action', message: expect.any(String), severity: 'error' },
    ]);
    expect(judged.error.message).toContain('types.t.actions[0].action');
  });

  it('keeps only warnings on success', () => {
    const parsed = parseActionConfig(`${YAML}\nextra: true\n`);
    const judged = judgeParse(parsed.issues, parsed.config);
    expect(judged).toMatchObject({ ok: true, value: { warnings: [{ path: 'extra', code: 'unknown_key', severity: 'warning' }] } });
  });
});

describe('the service over an embedded database', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ dataDir: 'memory://' });
    await migrate(handle.db);
  });
  afterAll(async () => {
    await handle?.close();
  });

  it('versions per tenant and serves the current one from its cache', async () => {
    const service = createActionConfigService(handle.db);
    expect(await service.current('t1')).toBeNull();
    expect((await service.available('t1', 'research', { status: 'pending' })).ok).toBe(true);

    const first = await service.set('t1', YAML);
    const second = await service.set('t1', YAML.replace('Approve', 'Go'));
    const other = await service.set('t2', YAML);
    expect([first, second, other].map((r) => r.ok && r.value.version)).toEqual([1, 2, 1]);

    const current = await service.current('t1');
    expect(current?.version).toBe(2);
    // The same parsed object every time: no re-parse, and the DSL's compiled-condition cache applies.
    expect((await service.current('t1'))?.config).toBe(current?.config);
    const buttons = await service.available('t1', 'research', { id: 'a 1', status: 'pending' });
    expect(buttons).toEqual({ ok: true, value: visibleActions(current!.config, 'research', { id: 'a 1', status: 'pending' }) });
    expect(buttons.ok && buttons.value[0]?.ui.label).toBe('Go');
  });

  it('sees a version written by another process (another service instance)', async () => {
    const mine = createActionConfigService(handle.db);
    const theirs = createActionConfigService(handle.db);
    await mine.set('shared', YAML);
    const before = await mine.available('shared', 'research', { status: 'pending' });
    expect(before.ok && before.value.map((b) => b.ui.label)).toEqual(['Approve']);
    await theirs.set('shared', YAML.replace('Approve', 'Theirs'));
    const after = await mine.available('shared', 'research', { status: 'pending' });
    expect(after.ok && after.value.map((b) => b.ui.label)).toEqual(['Theirs']);
    // A fresh instance loads the row and re-parses the stored source once.
    const fresh = createActionConfigService(handle.db);
    const loaded = await fresh.current('shared');
    expect(loaded).toMatchObject({ version: 2, source: YAML.replace('Approve', 'Theirs'), warnings: [] });
    expect((await fresh.current('shared'))?.config).toBe(loaded?.config);
  });

  it('stores nothing for rejected text', async () => {
    const service = createActionConfigService(handle.db);
    const rejected = await service.set('t3', 'actions: [');
    expect(rejected).toMatchObject({ ok: false, error: { code: 'invalid_action_config', issues: [{ path: '$', code: 'yaml_syntax' }] } });
    expect(await service.current('t3')).toBeNull();
  });

  it('gives concurrent writers distinct consecutive versions', async () => {
    const a = createActionConfigService(handle.db);
    const b = createActionConfigService(handle.db);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).set('busy', YAML)));
    const versions = results.map((r) => (r.ok ? r.value.version : -1)).sort((x, y) => x - y);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
