// Every validation rule of the action registry, through GraphQL and REST.
// One table; each row runs on both transports and must give the same code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

const long = (n: number) => 'x'.repeat(n);
const prompt = (spec: Record<string, unknown>) => ({ title: 'P', kind: 'prompt', spec: { prompt: 'Do it', ...spec } });
const command = (spec: Record<string, unknown>) => ({ title: 'C', kind: 'command', spec: { cmd: 'echo hi', ...spec } });

interface Rejected {
  name: string;
  body: unknown;
  code: string;
  field: string | null;
  /** Not expressible as a GraphQL input object (not an object, or invalid JSON). */
  restOnly?: boolean;
}

const rejected: Rejected[] = [
  { name: 'body is an array', body: [1, 2], code: 'invalid_body', field: null, restOnly: true },
  { name: 'body is a string', body: '"text"', code: 'invalid_body', field: null, restOnly: true },
  { name: 'body is null', body: 'null', code: 'invalid_body', field: null, restOnly: true },
  { name: 'body is not JSON', body: '{"title":', code: 'invalid_json', field: null, restOnly: true },
  { name: 'body is empty', body: '', code: 'invalid_json', field: null, restOnly: true },
  { name: 'title missing', body: { kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title null', body: { title: null, kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title a number', body: { title: 5, kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title empty', body: { title: '', kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title blank', body: { title: ' \t\n ', kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title 201 chars', body: { title: long(201), kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title with NUL', body: { title: 'a\u0000b', kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title with a lone surrogate', body: { title: 'a\ud800b', kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'title SQL-looking and too long', body: { title: `'; drop table action_definitions; --${long(200)}`, kind: 'prompt', spec: { prompt: 'x' } }, code: 'invalid_title', field: 'title' },
  { name: 'kind missing (title checked first)', body: { title: '', spec: {} }, code: 'invalid_title', field: 'title' },
  { name: 'kind missing', body: { title: 'T', spec: { prompt: 'x' } }, code: 'invalid_kind', field: 'kind' },
  { name: 'kind unknown', body: { title: 'T', kind: 'shell', spec: { cmd: 'x' } }, code: 'invalid_kind', field: 'kind' },
  { name: 'kind wrong case', body: { title: 'T', kind: 'Prompt', spec: { prompt: 'x' } }, code: 'invalid_kind', field: 'kind' },
  { name: 'kind a number', body: { title: 'T', kind: 1, spec: { prompt: 'x' } }, code: 'invalid_kind', field: 'kind' },
  { name: 'spec missing', body: { title: 'T', kind: 'prompt' }, code: 'invalid_spec', field: 'spec' },
  { name: 'spec null', body: { title: 'T', kind: 'prompt', spec: null }, code: 'invalid_spec', field: 'spec' },
  { name: 'spec an array', body: { title: 'T', kind: 'prompt', spec: ['prompt'] }, code: 'invalid_spec', field: 'spec' },
  { name: 'spec a string', body: { title: 'T', kind: 'prompt', spec: '{"prompt":"x"}' }, code: 'invalid_spec', field: 'spec' },
  { name: 'enabled a string', body: { ...prompt({}), enabled: 'yes' }, code: 'invalid_enabled', field: 'enabled' },
  { name: 'enabled a number', body: { ...prompt({}), enabled: 1 }, code: 'invalid_enabled', field: 'enabled' },
  { name: 'enabled null', body: { ...prompt({}), enabled: null }, code: 'invalid_enabled', field: 'enabled' },
  { name: 'enabled checked before spec fields', body: { title: 'T', kind: 'prompt', spec: {}, enabled: 'no' }, code: 'invalid_enabled', field: 'enabled' },
  { name: 'prompt missing', body: { title: 'T', kind: 'prompt', spec: {} }, code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'prompt null', body: prompt({ prompt: null }), code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'prompt blank', body: prompt({ prompt: '   ' }), code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'prompt a number', body: prompt({ prompt: 42 }), code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'prompt 200,001 chars', body: prompt({ prompt: long(200_001) }), code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'prompt with NUL', body: prompt({ prompt: 'a\u0000' }), code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'agent empty', body: prompt({ agent: '' }), code: 'invalid_agent', field: 'spec.agent' },
  { name: 'agent blank', body: prompt({ agent: '  ' }), code: 'invalid_agent', field: 'spec.agent' },
  { name: 'agent a number', body: prompt({ agent: 7 }), code: 'invalid_agent', field: 'spec.agent' },
  { name: 'model empty', body: prompt({ model: '' }), code: 'invalid_model', field: 'spec.model' },
  { name: 'model an object', body: prompt({ model: { name: 'x' } }), code: 'invalid_model', field: 'spec.model' },
  { name: 'reasoning unknown', body: prompt({ reasoning: 'extreme' }), code: 'invalid_reasoning', field: 'spec.reasoning' },
  { name: 'reasoning wrong case', body: prompt({ reasoning: 'HIGH' }), code: 'invalid_reasoning', field: 'spec.reasoning' },
  { name: 'reasoning a number', body: prompt({ reasoning: 2 }), code: 'invalid_reasoning', field: 'spec.reasoning' },
  { name: 'prompt timeout_s a string', body: prompt({ timeout_s: '45' }), code: 'invalid_timeout_s', field: 'spec.timeout_s' },
  { name: 'prompt timeout_s a boolean', body: prompt({ timeout_s: true }), code: 'invalid_timeout_s', field: 'spec.timeout_s' },
  { name: 'cmd missing', body: { title: 'T', kind: 'command', spec: {} }, code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'cmd blank', body: command({ cmd: ' ' }), code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'cmd 20,001 chars', body: command({ cmd: long(20_001) }), code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'cmd a list', body: command({ cmd: ['echo', 'hi'] }), code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'cmd with NUL', body: command({ cmd: 'echo \u0000' }), code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'shell sh', body: command({ shell: 'sh' }), code: 'invalid_shell', field: 'spec.shell' },
  { name: 'shell a number', body: command({ shell: 1 }), code: 'invalid_shell', field: 'spec.shell' },
  { name: 'cwd absolute', body: command({ cwd: '/etc' }), code: 'invalid_cwd', field: 'spec.cwd' },
  { name: 'cwd a number', body: command({ cwd: 3 }), code: 'invalid_cwd', field: 'spec.cwd' },
  { name: 'cwd with NUL', body: command({ cwd: 'sub\u0000' }), code: 'invalid_cwd', field: 'spec.cwd' },
  { name: 'cwd parent', body: command({ cwd: '..' }), code: 'cwd_outside_repo', field: 'spec.cwd' },
  { name: 'cwd traversal', body: command({ cwd: 'sub/../../outside' }), code: 'cwd_outside_repo', field: 'spec.cwd' },
  { name: 'cwd symlink out of the root', body: command({ cwd: 'escape' }), code: 'cwd_outside_repo', field: 'spec.cwd' },
  { name: 'cwd under a symlink out of the root', body: command({ cwd: 'escape/not-yet' }), code: 'cwd_outside_repo', field: 'spec.cwd' },
  { name: 'command timeout_s a string', body: command({ timeout_s: '60' }), code: 'invalid_timeout_s', field: 'spec.timeout_s' },
];

interface Accepted {
  name: string;
  body: Record<string, unknown>;
  expect: Record<string, unknown>;
}

const accepted: Accepted[] = [
  { name: 'prompt defaults', body: prompt({}), expect: { title: 'P', kind: 'prompt', enabled: true, spec: { prompt: 'Do it', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 45 } } },
  { name: 'title and kind trimmed, enabled false', body: { title: '  Tidy  ', kind: ' prompt ', spec: { prompt: ' keep spaces ' }, enabled: false }, expect: { title: 'Tidy', kind: 'prompt', enabled: false, spec: { prompt: ' keep spaces ', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 45 } } },
  { name: 'title of exactly 200 chars', body: { ...prompt({}), title: ` ${long(200)} ` }, expect: { title: long(200) } },
  { name: 'prompt of exactly 200,000 chars', body: prompt({ prompt: long(200_000) }), expect: { spec: { prompt: long(200_000), agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 45 } } },
  { name: 'agent, model, reasoning trimmed; nulls take defaults', body: prompt({ agent: ' claude ', model: ' m1 ', reasoning: ' xhigh ', timeout_s: null }), expect: { spec: { prompt: 'Do it', agent: 'claude', model: 'm1', reasoning: 'xhigh', timeout_s: 45 } } },
  { name: 'prompt timeout clamped up', body: prompt({ timeout_s: 1 }), expect: { spec: { prompt: 'Do it', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 5 } } },
  { name: 'prompt timeout clamped down', body: prompt({ timeout_s: 1e9 }), expect: { spec: { prompt: 'Do it', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 300 } } },
  { name: 'unknown spec keys dropped', body: prompt({ extra: 1, __proto__x: 2, cmd: 'no' }), expect: { spec: { prompt: 'Do it', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'medium', timeout_s: 45 } } },
  { name: 'command defaults', body: command({}), expect: { kind: 'command', spec: { cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 60 } } },
  { name: 'command timeout clamped', body: command({ timeout_s: 0, shell: ' bash ' }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 1 } } },
  { name: 'command timeout clamped down', body: command({ timeout_s: 99_999 }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 3600 } } },
  { name: 'blank cwd is the root', body: command({ cwd: '   ' }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 60 } } },
  { name: 'cwd normalised', body: command({ cwd: './sub/deeper/../' }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: 'sub', timeout_s: 60 } } },
  { name: 'cwd through a symlink inside the root', body: command({ cwd: 'inner-link/deeper' }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: 'inner-link/deeper', timeout_s: 60 } } },
  { name: 'cwd not yet existing', body: command({ cwd: 'build/out' }), expect: { spec: { cmd: 'echo hi', shell: 'bash', cwd: 'build/out', timeout_s: 60 } } },
  { name: 'SQL-looking strings stored verbatim', body: { title: "Robert'); drop table action_definitions;--", kind: 'command', spec: { cmd: "echo '$1' \"; select 1" } }, expect: { title: "Robert'); drop table action_definitions;--", spec: { cmd: "echo '$1' \"; select 1", shell: 'bash', cwd: '.', timeout_s: 60 } } },
];

const CREATE = `mutation Create($input: CreateActionDefinitionInput!) {
  createActionDefinition(input: $input) {
    __typename
    ... on CreateActionDefinitionSuccess { actionDefinition { id title kind enabled version specJson } }
    ... on Error { code field message }
  }
}`;

/** Fields whose GraphQL input type already rejects a value of another JSON type. */
function graphqlTypeMismatch(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  for (const field of ['title', 'kind'] as const) if (b[field] != null && typeof b[field] !== 'string') return field;
  if (b.enabled != null && typeof b.enabled !== 'boolean') return 'enabled';
  return null;
}

type Outcome = { ok: true; action: Record<string, unknown> } | { ok: false; code: string; field: string | null; message: string };

async function createVia(transport: 'rest' | 'graphql', body: unknown): Promise<Outcome> {
  if (transport === 'rest') {
    const res = await gw.rest('POST', '/api/actions', typeof body === 'string' ? body : body);
    if (res.status === 200) return { ok: true, action: res.body.action as Record<string, unknown> };
    expect(res.status).toBe(400);
    return { ok: false, code: String(res.body.error), field: (res.body.field as string | null) ?? null, message: String(res.body.detail) };
  }
  const res = await gw.gql<{ createActionDefinition: Record<string, unknown> }>(CREATE, { input: body });
  const mismatch = graphqlTypeMismatch(body);
  if (mismatch) {
    // GraphQL's own type system answers first, naming the field.
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0]?.message).toMatch(new RegExp(`\\b${mismatch}\\b`));
    return { ok: false, code: `graphql_type:${mismatch}`, field: mismatch, message: res.errors?.[0]?.message ?? '' };
  }
  const result = res.data!.createActionDefinition;
  if (result.__typename === 'CreateActionDefinitionSuccess') {
    const d = result.actionDefinition as Record<string, unknown>;
    return { ok: true, action: { ...d, id: Number(d.id), spec: d.specJson } };
  }
  expect(result.__typename).toBe('ValidationError');
  return { ok: false, code: String(result.code), field: (result.field as string | null) ?? null, message: String(result.message) };
}

describe.each(['rest', 'graphql'] as const)('create through %s', (transport) => {
  it.each(rejected.filter((row) => transport === 'rest' || !row.restOnly))('rejects: $name → $code', async (row) => {
    const before = await gw.rest('GET', '/api/actions?limit=200');
    const outcome = await createVia(transport, row.body);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    const typeMismatch = transport === 'graphql' ? graphqlTypeMismatch(row.body) : null;
    if (typeMismatch) {
      expect(row.field).toBe(typeMismatch);
    } else {
      expect({ code: outcome.code, field: outcome.field }).toEqual({ code: row.code, field: row.field });
    }
    expect(outcome.message).not.toContain(gw.repoRoot);
    expect(outcome.message).not.toMatch(/(^|\s)\/[a-z]+\//);
    const after = await gw.rest('GET', '/api/actions?limit=200');
    expect(after.body.actions).toEqual(before.body.actions);
  });

  it.each(accepted)('accepts: $name', async (row) => {
    const outcome = await createVia(transport, row.body);
    if (!outcome.ok) throw new Error(`rejected: ${outcome.code} ${outcome.message}`);
    expect(outcome.action).toMatchObject({ version: 1, ...row.expect });
    if (row.expect.spec) expect(outcome.action.spec).toEqual(row.expect.spec);
    const stored = await gw.rest('GET', `/api/actions/${String(outcome.action.id)}`);
    expect(stored.body.action).toMatchObject(row.expect);
  });
});

const UPDATE = `mutation Update($id: ID!, $input: UpdateActionDefinitionInput!) {
  updateActionDefinition(id: $id, input: $input) {
    __typename
    ... on UpdateActionDefinitionSuccess { actionDefinition { id title kind enabled version specJson } }
    ... on Error { code field message }
  }
}`;

async function updateVia(transport: 'rest' | 'graphql', id: string, body: unknown): Promise<Outcome & { status?: number }> {
  if (transport === 'rest') {
    const res = await gw.rest('PUT', `/api/actions/${id}`, body);
    if (res.status === 200) return { ok: true, action: res.body.action as Record<string, unknown> };
    return { ok: false, code: String(res.body.error), field: (res.body.field as string | null) ?? null, message: String(res.body.detail), status: res.status };
  }
  const res = await gw.gql<{ updateActionDefinition: Record<string, unknown> }>(UPDATE, { id, input: body });
  const result = res.data!.updateActionDefinition;
  if (result.__typename === 'UpdateActionDefinitionSuccess') {
    const d = result.actionDefinition as Record<string, unknown>;
    return { ok: true, action: { ...d, id: Number(d.id), spec: d.specJson } };
  }
  return { ok: false, code: String(result.code), field: (result.field as string | null) ?? null, message: String(result.message) };
}

interface UpdateRow {
  name: string;
  on: 'prompt' | 'command';
  body: unknown;
  code?: string;
  field?: string | null;
  spec?: Record<string, unknown>;
  title?: string;
  restOnly?: boolean;
}

const updates: UpdateRow[] = [
  { name: 'empty patch', on: 'prompt', body: {}, code: 'no_fields', field: null },
  { name: 'only unknown keys', on: 'prompt', body: { colour: 'red' }, code: 'no_fields', field: null, restOnly: true },
  { name: 'body an array', on: 'prompt', body: [], code: 'invalid_body', field: null, restOnly: true },
  { name: 'body not JSON', on: 'prompt', body: '{', code: 'invalid_json', field: null, restOnly: true },
  { name: 'kind change', on: 'prompt', body: { kind: 'command' }, code: 'kind_change_not_allowed', field: 'kind' },
  { name: 'kind invalid', on: 'command', body: { kind: 'job' }, code: 'invalid_kind', field: 'kind' },
  { name: 'title blank', on: 'prompt', body: { title: ' ' }, code: 'invalid_title', field: 'title' },
  { name: 'title null', on: 'prompt', body: { title: null }, code: 'invalid_title', field: 'title' },
  { name: 'spec array', on: 'prompt', body: { spec: [] }, code: 'invalid_spec', field: 'spec' },
  { name: 'enabled null', on: 'prompt', body: { enabled: null }, code: 'invalid_enabled', field: 'enabled' },
  { name: 'prompt set to null', on: 'prompt', body: { spec: { prompt: null } }, code: 'invalid_prompt', field: 'spec.prompt' },
  { name: 'cmd set to null', on: 'command', body: { spec: { cmd: null } }, code: 'invalid_cmd', field: 'spec.cmd' },
  { name: 'cwd out of the root', on: 'command', body: { spec: { cwd: '../x' } }, code: 'cwd_outside_repo', field: 'spec.cwd' },
  { name: 'reasoning invalid', on: 'prompt', body: { spec: { reasoning: 'max' } }, code: 'invalid_reasoning', field: 'spec.reasoning' },
  { name: 'same kind, new title', on: 'prompt', body: { kind: 'prompt', title: ' Renamed ' }, title: 'Renamed', spec: { prompt: 'Original', agent: 'claude', model: 'm9', reasoning: 'high', timeout_s: 100 } },
  { name: 'spec patch merges', on: 'prompt', body: { spec: { reasoning: 'low' } }, spec: { prompt: 'Original', agent: 'claude', model: 'm9', reasoning: 'low', timeout_s: 100 } },
  { name: 'null returns a key to its default', on: 'prompt', body: { spec: { model: null, agent: null, timeout_s: null } }, spec: { prompt: 'Original', agent: 'codex', model: 'gpt-5.3-codex', reasoning: 'high', timeout_s: 45 } },
  { name: 'command spec re-normalised', on: 'command', body: { spec: { cwd: 'sub/', timeout_s: 0, junk: true } }, spec: { cmd: 'make', shell: 'bash', cwd: 'sub', timeout_s: 1 } },
];

describe.each(['rest', 'graphql'] as const)('update through %s', (transport) => {
  it.each(updates.filter((row) => transport === 'rest' || !row.restOnly))('$name', async (row) => {
    const seed =
      row.on === 'prompt'
        ? { title: 'Original', kind: 'prompt', spec: { prompt: 'Original', agent: 'claude', model: 'm9', reasoning: 'high', timeout_s: 100 } }
        : { title: 'Build', kind: 'command', spec: { cmd: 'make', cwd: 'sub/deeper', timeout_s: 120 } };
    const created = await gw.rest('POST', '/api/actions', seed);
    const stored = created.body.action as Record<string, unknown>;
    const outcome = await updateVia(transport, String(stored.id), row.body);
    const after = (await gw.rest('GET', `/api/actions/${String(stored.id)}`)).body.action as Record<string, unknown>;
    if (row.code) {
      expect(outcome.ok).toBe(false);
      if (outcome.ok) return;
      expect({ code: outcome.code, field: outcome.field }).toEqual({ code: row.code, field: row.field });
      expect(after).toEqual(stored);
      return;
    }
    if (!outcome.ok) throw new Error(`rejected: ${outcome.code} ${outcome.message}`);
    expect(outcome.action.version).toBe(2);
    expect(outcome.action.spec).toEqual(row.spec);
    if (row.title) expect(outcome.action.title).toBe(row.title);
    expect(after.spec).toEqual(row.spec);
    expect(after.version).toBe(2);
  });
});
