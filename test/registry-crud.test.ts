// The action registry end to end: pagination, filters, versions, deletes,
// ids that name nothing, and what is really stored in the database.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../server/src/db/migrate.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
const ids: number[] = [];
const LIST = `query List($first: Int, $after: String, $kind: ActionKind, $enabled: Boolean) {
  actionDefinitions(first: $first, after: $after, kind: $kind, enabled: $enabled) {
    edges { cursor node { id title kind enabled } }
    nodes { id }
    pageInfo { hasNextPage endCursor }
  }
}`;
type ListData = {
  actionDefinitions: {
    edges: Array<{ cursor: string; node: { id: string; title: string; kind: string; enabled: boolean } }>;
    nodes: Array<{ id: string }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
};

beforeAll(async () => {
  gw = await startTestGateway();
  // 230 definitions: every third a command, every fifth disabled.
  for (let i = 0; i < 230; i++) {
    const body =
      i % 3 === 0
        ? { title: `cmd ${i}`, kind: 'command', spec: { cmd: `echo ${i}` }, enabled: i % 5 !== 0 }
        : { title: `prompt ${i}`, kind: 'prompt', spec: { prompt: `p ${i}` }, enabled: i % 5 !== 0 };
    const res = await gw.rest('POST', '/api/actions', body);
    ids.push((res.body.action as { id: number }).id);
  }
});
afterAll(async () => {
  await gw?.close();
});

describe('actionDefinitions connection', () => {
  it('lists newest first with 50 by default', async () => {
    const res = await gw.gql<ListData>(LIST);
    const edges = res.data!.actionDefinitions.edges;
    expect(edges).toHaveLength(50);
    expect(edges.map((e) => Number(e.node.id))).toEqual([...ids].reverse().slice(0, 50));
    expect(res.data!.actionDefinitions.nodes.map((n) => n.id)).toEqual(edges.map((e) => e.node.id));
    expect(res.data!.actionDefinitions.pageInfo).toEqual({ hasNextPage: true, endCursor: edges.at(-1)!.cursor });
  });

  it.each([
    { first: 0, size: 1 },
    { first: -5, size: 1 },
    { first: 1, size: 1 },
    { first: 200, size: 200 },
    { first: 500, size: 200 },
  ])('clamps first=$first to $size', async ({ first, size }) => {
    const res = await gw.gql<ListData>(LIST, { first });
    expect(res.data!.actionDefinitions.edges).toHaveLength(size);
  });

  it('walks every page with after, each definition once', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: Awaited<ReturnType<typeof gw.gql<ListData>>> = await gw.gql<ListData>(LIST, { first: 40, after });
      const conn = res.data!.actionDefinitions;
      seen.push(...conn.edges.map((e) => Number(e.node.id)));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it.each([
    { filter: { kind: 'command' }, keep: (i: number) => i % 3 === 0 },
    { filter: { kind: 'prompt' }, keep: (i: number) => i % 3 !== 0 },
    { filter: { enabled: false }, keep: (i: number) => i % 5 === 0 },
    { filter: { kind: 'command', enabled: true }, keep: (i: number) => i % 3 === 0 && i % 5 !== 0 },
  ])('filters by $filter', async ({ filter, keep }) => {
    const res = await gw.gql<ListData>(LIST, { first: 200, ...filter });
    const expected = ids.filter((_, i) => keep(i)).reverse().slice(0, 200);
    expect(res.data!.actionDefinitions.edges.map((e) => Number(e.node.id))).toEqual(expected);
  });

  it.each(['not-a-cursor', Buffer.from('ad:abc').toString('base64url'), Buffer.from('xx:5').toString('base64url')])(
    'rejects the cursor %s with invalid_cursor',
    async (after) => {
      const res = await gw.gql(LIST, { after });
      expect(res.errors?.[0]?.extensions?.code).toBe('invalid_cursor');
    },
  );

  it('rejects an unknown kind through the enum', async () => {
    const res = await gw.gql(LIST, { kind: 'shell' });
    expect(res.errors?.[0]?.message).toMatch(/kind|ActionKind/);
  });
});

describe('single definitions', () => {
  const GET = `query Get($id: ID!) { actionDefinition(id: $id) { id title kind version enabled createdAt updatedAt spec { __typename ... on CommandSpec { cmd cwd shell timeoutS } ... on PromptSpec { prompt agent model reasoning timeoutS } } } }`;

  it('returns the spec as a typed union', async () => {
    const command = await gw.gql<{ actionDefinition: Record<string, unknown> }>(GET, { id: String(ids[0]) });
    expect(command.data!.actionDefinition).toMatchObject({ kind: 'command', spec: { __typename: 'CommandSpec', cmd: 'echo 0', cwd: '.', shell: 'bash', timeoutS: 60 } });
    const prompt = await gw.gql<{ actionDefinition: Record<string, unknown> }>(GET, { id: String(ids[1]) });
    expect(prompt.data!.actionDefinition).toMatchObject({ kind: 'prompt', spec: { __typename: 'PromptSpec', prompt: 'p 1', agent: 'codex', reasoning: 'medium', timeoutS: 45 } });
    expect(new Date(String(prompt.data!.actionDefinition.createdAt)).toISOString()).toBe(prompt.data!.actionDefinition.createdAt);
  });

  it.each(['0', '-1', 'abc', '1.5', '99999999', '9007199254740993', '1e3', ''])('actionDefinition(id: %j) is null', async (id) => {
    const res = await gw.gql<{ actionDefinition: unknown }>(GET, { id });
    expect(res.errors).toBeUndefined();
    expect(res.data!.actionDefinition).toBeNull();
  });

  it.each(['abc', '0', '99999999', '9007199254740993', '1.5', 'update-readme'])('REST id %j is a 404 on every verb', async (id) => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await gw.rest(method, `/api/actions/${id}`, method === 'PUT' ? { title: 'x' } : undefined);
      expect({ method, status: res.status, error: res.body.error }).toEqual({ method, status: 404, error: 'not_found' });
    }
  });

  it('counts versions and keeps created_at', async () => {
    const created = (await gw.rest('POST', '/api/actions', { title: 'v', kind: 'prompt', spec: { prompt: 'x' } })).body.action as Record<string, unknown>;
    let last = created;
    for (let v = 2; v <= 4; v++) {
      last = (await gw.rest('PUT', `/api/actions/${String(created.id)}`, { enabled: v % 2 === 0 })).body.action as Record<string, unknown>;
      expect(last.version).toBe(v);
    }
    expect(last.created_at).toBe(created.created_at);
    expect(Date.parse(String(last.updated_at))).toBeGreaterThanOrEqual(Date.parse(String(created.updated_at)));
    expect(last.enabled).toBe(true);
  });

  it('counts every one of concurrent updates', async () => {
    const created = (await gw.rest('POST', '/api/actions', { title: 'race', kind: 'prompt', spec: { prompt: 'x' } })).body.action as Record<string, unknown>;
    await Promise.all(Array.from({ length: 10 }, (_, i) => gw.rest('PUT', `/api/actions/${String(created.id)}`, { title: `t${i}` })));
    const after = (await gw.rest('GET', `/api/actions/${String(created.id)}`)).body.action as Record<string, unknown>;
    expect(after.version).toBe(11);
  });

  it('deletes once, then answers not_found through both transports', async () => {
    const created = (await gw.rest('POST', '/api/actions', { title: 'bye', kind: 'prompt', spec: { prompt: 'x' } })).body.action as Record<string, unknown>;
    const DELETE = `mutation Del($id: ID!) { deleteActionDefinition(id: $id) { __typename ... on DeleteActionDefinitionSuccess { id } ... on Error { code field } } }`;
    const first = await gw.gql<{ deleteActionDefinition: Record<string, unknown> }>(DELETE, { id: String(created.id) });
    expect(first.data!.deleteActionDefinition).toEqual({ __typename: 'DeleteActionDefinitionSuccess', id: String(created.id) });
    const again = await gw.gql<{ deleteActionDefinition: Record<string, unknown> }>(DELETE, { id: String(created.id) });
    expect(again.data!.deleteActionDefinition).toEqual({ __typename: 'NotFoundError', code: 'not_found', field: 'id' });
    expect((await gw.rest('DELETE', `/api/actions/${String(created.id)}`)).status).toBe(404);
    expect((await gw.rest('GET', `/api/actions/${String(created.id)}`)).status).toBe(404);
  });

  it('REST delete answers {ok: true}', async () => {
    const created = (await gw.rest('POST', '/api/actions', { title: 'bye', kind: 'prompt', spec: { prompt: 'x' } })).body.action as Record<string, unknown>;
    expect(await gw.rest('DELETE', `/api/actions/${String(created.id)}`)).toEqual({ status: 200, body: { ok: true } });
  });
});

describe('REST list', () => {
  it.each([
    { limit: '', status: 400 },
    { limit: 'ten', status: 400 },
    { limit: '1.5', status: 400 },
    { limit: '5', status: 200, size: 5 },
    { limit: '0', status: 200, size: 1 },
    { limit: '-3', status: 200, size: 1 },
    { limit: '100000', status: 200, size: 200 },
  ])('limit=$limit → $status', async ({ limit, status, size }) => {
    const res = await gw.rest('GET', `/api/actions?limit=${limit}`);
    expect(res.status).toBe(status);
    if (status === 400) expect(res.body).toMatchObject({ error: 'invalid_limit' });
    else expect(res.body.actions).toHaveLength(size!);
  });

  it('returns the seed summary shape without the spec', async () => {
    const res = await gw.rest('GET', '/api/actions');
    expect(res.body.actions).toHaveLength(50);
    const first = (res.body.actions as Array<Record<string, unknown>>)[0]!;
    expect(Object.keys(first).sort()).toEqual(['created_at', 'enabled', 'id', 'kind', 'title', 'updated_at', 'version']);
  });

  it('answers unsupported methods with 405 and JSON', async () => {
    const res = await gw.rest('PATCH', '/api/actions/1', { title: 'x' });
    expect(res.status).toBe(405);
    expect(res.body.error).toBe('method_not_allowed');
  });
});

describe('storage', () => {
  it('stores every spec as a jsonb object', async () => {
    const rows = rowsOf<{ type: string; n: number }>(
      await gw.gateway.database.db.execute(sql`select jsonb_typeof(spec) as type, count(*)::int as n from action_definitions group by 1`),
    );
    expect(rows).toEqual([{ type: 'object', n: expect.any(Number) }]);
  });

  it('refuses a non-object spec at the database level too', async () => {
    const error = await gw.gateway.database.db
      .execute(sql`insert into action_definitions (title, kind, spec) values ('x', 'prompt', ${JSON.stringify('a string')}::jsonb)`)
      .then(() => null, (e: Error & { cause?: Error }) => e);
    expect(String(error?.cause?.message ?? error?.message)).toMatch(/action_definitions_spec_object_check/);
  });

  it('stores the tenant and the default tenant is "default"', async () => {
    const rows = rowsOf<{ tenant: string }>(await gw.gateway.database.db.execute(sql`select distinct tenant from action_definitions`));
    expect(rows).toEqual([{ tenant: 'default' }]);
  });
});
