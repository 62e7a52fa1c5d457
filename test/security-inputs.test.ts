// Hostile strings in every string input: SQL-looking text is stored or
// compared verbatim (every statement is parameterized), NUL bytes (which
// Postgres text and jsonb cannot hold) are refused with a typed error, and a
// command's cwd cannot leave the repository root. Over GraphQL and REST; each
// row asserts the exact outcome and that nothing else changed.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { wsClient } from './helpers/subscribe.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
// Known before the tables below are built.
const serviceId = `inputs-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  gw = await startTestGateway();
  axon = await startTestAxon({ url: await gw.axonUrl(serviceId), prefix: gw.prefix, serviceId, actions: ['restart'] });
  await eventually(async () => (await gw.gql<{ service: unknown }>('query ($id: ID!) { service(id: $id) { id } }', { id: serviceId })).data?.service, 10_000, 'service');
});

afterAll(async () => {
  await axon?.close();
  await gw?.close();
});

const SQL = ["'; DROP TABLE runs; --", "x' OR '1'='1", 'Robert"); DELETE FROM api_keys; --', '$1::text', "\\'; select pg_sleep(5); --"];
const NUL = ['a\u0000b', '\u0000', 'title\u0000; DROP TABLE runs'];

async function counts() {
  const res = await gw.gql<{ actionDefinitions: { nodes: unknown[] }; runs: { nodes: unknown[] }; webhooks: unknown[]; apiKeys: unknown[] }>(
    '{ actionDefinitions(first: 200) { nodes { id } } runs(first: 200) { nodes { id } } webhooks { id } apiKeys { id } }',
  );
  const d = res.data!;
  return { definitions: d.actionDefinitions.nodes.length, runs: d.runs.nodes.length, webhooks: d.webhooks.length, keys: d.apiKeys.length };
}

const CREATE = 'mutation ($input: CreateActionDefinitionInput!) { createActionDefinition(input: $input) { __typename ... on CreateActionDefinitionSuccess { actionDefinition { id title spec { ... on CommandSpec { cmd cwd } ... on PromptSpec { prompt } } } } ... on Error { code field } } }';
const TRIGGER = 'mutation ($input: TriggerActionInput!) { triggerAction(input: $input) { __typename ... on TriggerPayload { run { id input } } ... on Error { code field } } }';

describe('SQL-looking strings are data', () => {
  it.each(SQL)('definition title and command %j are stored and read back verbatim', async (text) => {
    const created = await gw.gql<{ createActionDefinition: { actionDefinition: { id: string; title: string; spec: { cmd: string } } } }>(CREATE, { input: { title: text, kind: 'command', spec: { cmd: text } } });
    const definition = created.data!.createActionDefinition.actionDefinition;
    expect(definition.title).toBe(text);
    expect(definition.spec.cmd).toBe(text);
    const rest = await gw.rest('GET', `/api/actions/${definition.id}`);
    expect((rest.body.action as { title: string }).title).toBe(text);
  });

  it.each(SQL)('a trigger input %j reaches the Axon verbatim; as a service or action id it is unknown', async (text) => {
    const before = axon.commands.length;
    const ok = await gw.gql<{ triggerAction: { run: { id: string; input: unknown } } }>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { note: text }, idempotencyKey: text } });
    expect(ok.data!.triggerAction.run.input).toEqual({ note: text });
    const [command] = (await axon.waitForCommands(before + 1)).slice(-1);
    expect(command!.parameters.input).toEqual({ note: text });
    const asService = await gw.gql<{ triggerAction: { code: string } }>(TRIGGER, { input: { serviceId: text, actionId: 'restart' } });
    expect(asService.data!.triggerAction.code).toMatch(/^(unknown_service|invalid_service_id)$/);
    const asAction = await gw.gql<{ triggerAction: { code: string } }>(TRIGGER, { input: { serviceId, actionId: text } });
    expect(asAction.data!.triggerAction.code).toMatch(/^(unknown_action|invalid_action_id)$/);
  });

  it.each(SQL)('lookups by id %j find nothing', async (text) => {
    const res = await gw.gql<{ run: unknown; service: unknown }>('query ($id: ID!) { run(id: $id) { id } service(id: $id) { id } }', { id: text });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ run: null, service: null });
    expect((await gw.rest('GET', `/api/actions/${encodeURIComponent(text)}`)).status).toBe(404);
  });
});

describe('NUL bytes and unpaired surrogates are refused with a typed error, nothing stored', () => {
  const BAD = [...NUL, 'lone \ud800 surrogate'];
  // GraphQL, over HTTP and graphql-ws: a string argument (id, filter, name) is refused with
  // invalid_text before any resolver runs; a field of an input object gets its own typed error.
  const graphqlRows: Array<[string, string, string, Record<string, unknown>]> = [];
  for (const text of BAD) {
    const t = JSON.stringify(text);
    graphqlRows.push(
      [`createActionDefinition title ${t}`, 'invalid_title', CREATE, { input: { title: text, kind: 'command', spec: { cmd: 'ls' } } }],
      [`createActionDefinition spec ${t}`, 'invalid_prompt', CREATE, { input: { title: 'ok', kind: 'prompt', spec: { prompt: text } } }],
      [`triggerAction input ${t}`, 'invalid_input', TRIGGER, { input: { serviceId, actionId: 'restart', input: { note: text } } }],
      [`triggerAction idempotencyKey ${t}`, 'invalid_idempotency_key', TRIGGER, { input: { serviceId, actionId: 'restart', idempotencyKey: text } }],
      [`createWebhook url ${t}`, 'invalid_url', 'mutation ($u: String!) { createWebhook(input: { url: $u, eventTypes: ["*"] }) { __typename ... on Error { code } } }', { u: `https://hooks.example.com/${text}` }],
      [`createApiKey name ${t}`, 'invalid_text', 'mutation ($n: String!) { createApiKey(name: $n, scopes: ["runs:read"]) { __typename } }', { n: text }],
      [`createApiKey scopes ${t}`, 'invalid_text', 'mutation ($s: [String!]!) { createApiKey(name: "x", scopes: $s) { __typename } }', { s: ['runs:read', text] }],
      [`setActionConfig yaml ${t}`, 'invalid_text', 'mutation ($y: String!) { setActionConfig(yaml: $y) { __typename } }', { y: `actions:\n  a:\n    ui: { label: "${text}" }\n` }],
      [`runs serviceId ${t}`, 'invalid_text', 'query ($s: String) { runs(serviceId: $s) { nodes { id } } }', { s: text }],
      [`service id ${t}`, 'invalid_text', 'query ($id: ID!) { service(id: $id) { id } }', { id: text }],
      [`cancelRun id ${t}`, 'invalid_text', 'mutation ($id: ID!) { cancelRun(id: $id) { __typename } }', { id: text }],
      [`webhookDeliveries webhookId ${t}`, 'invalid_text', 'query ($id: ID) { webhookDeliveries(webhookId: $id) { id } }', { id: text }],
      [`runEvents runId ${t}`, 'invalid_text', 'subscription ($id: ID!) { runEvents(runId: $id) { seq } }', { id: text }],
    );
  }

  /** The code of a GraphQL answer: the first error's, or the typed result's. */
  const codeOf = (answer: unknown): unknown => {
    const a = answer as { errors?: Array<{ extensions?: { code?: unknown } }>; data?: Record<string, { code?: unknown } | null> } | null;
    return a?.errors?.[0]?.extensions?.code ?? Object.values(a?.data ?? {})[0]?.code;
  };

  it.each(graphqlRows)('GraphQL %s → %s over HTTP and graphql-ws', async (_label, code, query, variables) => {
    const before = await counts();
    const commands = axon.commands.length;
    const http = await gw.gql(query, variables);
    expect(codeOf(http), JSON.stringify(http)).toBe(code);
    if (code === 'invalid_text') {
      expect(http.errors?.[0]?.extensions?.field).toMatch(/^\$/);
      expect(http.data ?? null).toBeNull();
    }
    const ws = wsClient(gw.url);
    const overWs = await new Promise<unknown>((resolve) => {
      ws.subscribe({ query, variables }, { next: (value) => resolve(value), error: (error) => resolve({ errors: error }), complete: () => resolve(null) });
    });
    await ws.dispose();
    expect(JSON.stringify(overWs)).toContain(code);
    expect(await counts()).toEqual(before);
    await new Promise((r) => setTimeout(r, 20));
    expect(axon.commands.length).toBe(commands);
  });

  it.each(BAD)('a string literal %j as an argument is refused too', async (text) => {
    const res = await gw.gql(`{ service(id: ${JSON.stringify(text)}) { id } }`);
    // graphql-js's lexer already refuses a lone surrogate escape; NUL escapes parse and meet the guard.
    expect(res.errors?.[0]?.extensions?.code).toBe(text.isWellFormed() ? 'invalid_text' : 'GRAPHQL_PARSE_FAILED');
    expect(res.data ?? null).toBeNull();
  });

  // REST: each field answers with its own typed code, 400.
  const restRows: Array<[string, string, () => Promise<{ status: number; body: Record<string, unknown> }>]> = [];
  for (const text of BAD) {
    restRows.push(
      [`POST /api/actions title ${JSON.stringify(text)}`, 'invalid_title', () => gw.rest('POST', '/api/actions', { title: text, kind: 'command', spec: { cmd: 'ls' } })],
      [`trigger body input ${JSON.stringify(text)}`, 'invalid_input', () => gw.rest('POST', `/api/v1/services/${serviceId}/actions/restart`, { input: { note: text } })],
    );
  }

  it.each(restRows)('REST %s → 400 %s', async (_label, code, attempt) => {
    const before = await counts();
    const commands = axon.commands.length;
    const res = await attempt();
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(code);
    expect(await counts()).toEqual(before);
    await new Promise((r) => setTimeout(r, 20));
    expect(axon.commands.length).toBe(commands);
  });
});

describe('path traversal in cwd', () => {
  it.each(['../', '../../etc', '/etc', 'sub/../../outside', 'escape', 'escape/deeper', '..\\..\\windows'])('cwd %j is refused over GraphQL and REST', async (cwd) => {
    const before = await counts();
    const graphql = await gw.gql<{ createActionDefinition: { code: string; field: string } }>(CREATE, { input: { title: 't', kind: 'command', spec: { cmd: 'ls', cwd } } });
    expect(graphql.data!.createActionDefinition.code).toMatch(/^(cwd_outside_repo|invalid_cwd)$/);
    const rest = await gw.rest('POST', '/api/actions', { title: 't', kind: 'command', spec: { cmd: 'ls', cwd } });
    expect(rest.status).toBe(400);
    expect(rest.body.error).toBe(graphql.data!.createActionDefinition.code);
    expect(await counts()).toEqual(before);
  });
});
