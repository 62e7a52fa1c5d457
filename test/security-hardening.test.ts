// GraphQL and HTTP hardening (docs/security.md), against real gateways.
// One table of attacks runs over HTTP, SSE and graphql-ws: each row names the
// exact refusal per transport, and after the table nothing has changed (no
// attack's mutation ran) and no response carried a stack, path, SQL or a
// schema suggestion. Then the transport-specific edges: CSRF, GET mutations,
// batching, masked errors, rate limits, WebSocket limits and protocol edges.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { type GraphqlRequest, LEAKS, type Outcome, openAcked, over, overHttp, type Transport, TRANSPORTS } from './helpers/transports.js';

const manifest = JSON.parse(readFileSync(new URL('../client/persisted-operations.json', import.meta.url), 'utf8')) as Record<string, string>;
const hashOf = (operation: string): string => {
  const found = Object.entries(manifest).find(([, text]) => text.includes(operation));
  if (!found) throw new Error(`no persisted operation ${operation}`);
  return found[0];
};
const LIST_HASH = hashOf('query ActionDefinitions(');

let hardened: TestGateway;
let persisted: TestGateway;

beforeAll(async () => {
  [hardened, persisted] = await Promise.all([
    startTestGateway({
      SYNAPSE_INTROSPECTION: 'false',
      SYNAPSE_WS_KEEPALIVE_MS: '300',
      SYNAPSE_TRIGGER_RATE_PER_IP: '0.05',
      SYNAPSE_TRIGGER_BURST_PER_IP: '3',
    }),
    startTestGateway({ SYNAPSE_PERSISTED_ONLY: 'true', SYNAPSE_WS_MAX_CONNECTIONS_PER_IP: '3' }),
  ]);
});
afterAll(async () => {
  await Promise.all([hardened?.close(), persisted?.close()]);
});

// ---------------------------------------------------------------------------
// The attack table

/** A mutation that would create a definition titled `title` if it ran. */
const create = (title: string) => `createActionDefinition(input: { title: "${title}", kind: "command", spec: { cmd: "true" } }) { __typename }`;

type Expected = { status: number | null; code: unknown; message: string } | { close: number } | { data: true };
interface Row {
  name: string;
  gateway: 'hardened' | 'persisted';
  request: GraphqlRequest;
  expect: Record<Transport, Expected>;
}

/** A refusal with the same code and message on every transport; `sse` is the status of a refusal found after the stream started. */
const refused = (code: unknown, message: string, http = 400, sse = 200): Record<Transport, Expected> => ({
  http: { status: http, code, message },
  sse: { status: sse, code, message },
  ws: { status: null, code, message },
});

const nest = (depth: number, inner: string): string => (depth === 0 ? inner : `... on Mutation { ${nest(depth - 1, inner)} }`);

const ROWS: Row[] = [
  {
    name: 'deep query (depth 13)',
    gateway: 'hardened',
    // 11 inline fragments, the mutation field and its selection: depth 13.
    request: { query: `mutation { ${nest(11, create('attack-deep'))} }` },
    expect: refused('query_too_deep', 'Query depth limit of 12 exceeded, found 13.'),
  },
  {
    name: 'alias bomb (31 aliases)',
    gateway: 'hardened',
    request: { query: `mutation { ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} ${create('attack-alias')} }` },
    expect: refused('too_many_aliases', 'Aliases limit of 30 exceeded, found 31.'),
  },
  {
    name: 'directive bomb (51 directives)',
    gateway: 'hardened',
    request: { query: `mutation { ${'__typename @skip(if: false) '.repeat(51)} ${create('attack-directives')} }` },
    expect: refused('too_many_directives', 'Directives limit of 50 exceeded, found 51.'),
  },
  {
    name: 'token flood (over 5,000 tokens)',
    gateway: 'hardened',
    request: { query: `mutation { ${create('attack-tokens')} ${'__typename '.repeat(5_000)} }` },
    expect: refused('too_many_tokens', 'Token limit of 5000 exceeded.'),
  },
  {
    name: 'costly query (cost over 20,000)',
    gateway: 'hardened',
    request: { query: '{ actionDefinitions(first: 100000) { nodes { id } } }' },
    expect: refused('query_too_costly', 'Query Cost limit of 20000 exceeded, found 725000.'),
  },
  {
    name: 'fragment cycle',
    gateway: 'hardened',
    request: { query: `mutation { ...A } fragment A on Mutation { ${create('attack-cycle')} ...B } fragment B on Mutation { ...A }` },
    expect: refused('GRAPHQL_VALIDATION_FAILED', 'Cannot spread fragment "A" within itself via "B".'),
  },
  {
    name: 'introspection (__schema) when disabled',
    gateway: 'hardened',
    request: { query: '{ __schema { types { name } } }' },
    expect: refused('introspection_disabled', 'Introspection is disabled on this gateway (field "__schema").'),
  },
  {
    name: 'introspection (__type) when disabled',
    gateway: 'hardened',
    request: { query: '{ __type(name: "Mutation") { fields { name } } }' },
    expect: refused('introspection_disabled', 'Introspection is disabled on this gateway (field "__type").'),
  },
  {
    name: 'misspelled field (no suggestion)',
    gateway: 'hardened',
    request: { query: `mutation { ${create('attack-typo').replace('createActionDefinition', 'createActionDefinitoin')} }` },
    expect: refused('GRAPHQL_VALIDATION_FAILED', 'Cannot query field "createActionDefinitoin" on type "Mutation".'),
  },
  {
    name: 'misspelled enum value (no suggestion)',
    gateway: 'hardened',
    request: { query: '{ actionDefinitions(kind: promtp) { nodes { id } } }' },
    expect: refused('GRAPHQL_VALIDATION_FAILED', 'Value "promtp" does not exist in "ActionKind" enum.'),
  },
  {
    name: '2 MiB body / frame',
    gateway: 'hardened',
    request: { query: `mutation { ${create('attack-big')} }`, pad: 2 * 1024 * 1024 },
    expect: {
      http: { status: 413, code: 'REQUEST_ENTITY_TOO_LARGE', message: 'Request body too large' },
      sse: { status: 413, code: 'REQUEST_ENTITY_TOO_LARGE', message: 'Request body too large' },
      ws: { close: 1009 },
    },
  },
  {
    name: 'arbitrary query text in persisted-only mode',
    gateway: 'persisted',
    request: { query: `mutation { ${create('attack-text')} }` },
    expect: refused(
      'persisted_query_required',
      'This gateway runs persisted operations only: send extensions.persistedQuery.sha256Hash (or documentId) of a known document.',
      400,
      400,
    ),
  },
  {
    name: 'unknown persisted hash',
    gateway: 'persisted',
    request: { extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update('{ __schema { types { name } } }').digest('hex') } } },
    expect: refused('persisted_query_not_found', 'No persisted operation has this hash.', 400, 400),
  },
  {
    name: 'malformed persisted hash',
    gateway: 'persisted',
    request: { documentId: "sha256:' OR 1=1 --" },
    expect: refused('persisted_query_invalid', 'A persisted operation is named by a lowercase sha256 hex digest.', 400, 400),
  },
  {
    name: 'known hash (Apollo extension) runs',
    gateway: 'persisted',
    request: { extensions: { persistedQuery: { version: 1, sha256Hash: LIST_HASH } }, variables: { first: 1 } },
    expect: { http: { data: true }, sse: { data: true }, ws: { data: true } },
  },
  {
    name: 'known documentId runs',
    gateway: 'persisted',
    request: { documentId: `sha256:${LIST_HASH}`, variables: { first: 1 } },
    expect: { http: { data: true }, sse: { data: true }, ws: { data: true } },
  },
  {
    name: 'known query text runs in persisted-only mode',
    gateway: 'persisted',
    request: { query: manifest[LIST_HASH]!, variables: { first: 1 } },
    expect: { http: { data: true }, sse: { data: true }, ws: { data: true } },
  },
];

function shape(outcome: Outcome, expected: Expected): unknown {
  if ('close' in expected) return outcome.kind === 'closed' ? { close: outcome.code } : outcome;
  if ('data' in expected) return outcome.kind === 'data' && outcome.data != null ? { data: true } : outcome;
  if (outcome.kind !== 'errors') return outcome;
  return { status: outcome.status, code: outcome.errors[0]?.code, message: outcome.errors[0]?.message };
}

/** Definitions whose title starts with "attack-" (a persisted-only gateway is read with its own documents). */
async function attackTitles(gw: TestGateway): Promise<string[]> {
  const request = gw === persisted ? { extensions: { persistedQuery: { version: 1, sha256Hash: LIST_HASH } }, variables: { first: 200 } } : { query: '{ actionDefinitions(first: 200) { nodes { title } } }' };
  const outcome = await overHttp(gw.url, request);
  if (outcome.kind !== 'data') throw new Error(`could not list definitions: ${outcome.raw}`);
  const { nodes } = (outcome.data as { actionDefinitions: { nodes: Array<{ title: string }> } }).actionDefinitions;
  return nodes.map((n) => n.title).filter((t) => t.startsWith('attack-'));
}

describe('the attack table (HTTP, SSE, graphql-ws)', () => {
  const cases = ROWS.flatMap((row) => TRANSPORTS.map((transport) => ({ ...row, transport, label: `${row.name} over ${transport}` })));

  it.each(cases)('$label', async ({ gateway, request, transport, expect: expected }) => {
    const gw = gateway === 'hardened' ? hardened : persisted;
    const outcome = await over(transport, gw.url, request);
    expect(shape(outcome, expected[transport])).toEqual(expected[transport]);
    expect(outcome.raw).not.toMatch(LEAKS);
  });

  it('changed nothing: no attack mutation ran on either gateway', async () => {
    expect(await attackTitles(hardened)).toEqual([]);
    expect(await attackTitles(persisted)).toEqual([]);
  });

  it('still answers on every transport afterwards', async () => {
    for (const transport of TRANSPORTS) {
      expect(shape(await over(transport, hardened.url, { query: '{ __typename }' }), { data: true })).toEqual({ data: true });
    }
  });
});

// ---------------------------------------------------------------------------
// HTTP only

describe('HTTP', () => {
  const graphqlGet = (gw: TestGateway, query: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json', ...headers } });

  it('requires a CSRF header on GET and on non-JSON POSTs (403 csrf_header_required)', async () => {
    const refusedGet = await graphqlGet(hardened, '{ __typename }');
    expect(refusedGet.status).toBe(403);
    expect(await refusedGet.json()).toEqual({ errors: [{ message: expect.stringContaining('x-graphql-csrf'), extensions: { code: 'csrf_header_required' } }] });
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'TEXT/PLAIN;charset=utf-8']) {
      const res = await fetch(`${hardened.url}/graphql`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
      expect(res.status, contentType).toBe(403);
    }
    // SSE over GET (EventSource-style) needs it too.
    expect((await graphqlGet(hardened, 'subscription { serviceUpdated { id } }', { accept: 'text/event-stream' })).status).toBe(403);
  });

  it('accepts GET with a CSRF header or an Authorization header, and JSON POSTs without one', async () => {
    for (const headers of [{ 'x-graphql-csrf': '1' }, { 'graphql-require-preflight': '1' }] as Array<Record<string, string>>) {
      const res = await graphqlGet(hardened, '{ __typename }', headers);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    }
    // An Authorization header passes the CSRF check; the key itself is then checked (this one is not valid).
    const keyed = await graphqlGet(hardened, '{ __typename }', { authorization: 'Bearer anything' });
    expect(keyed.status).toBe(401);
    expect(((await keyed.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe('unauthenticated');
    expect(await hardened.gql('{ __typename }')).toEqual({ status: 200, data: { __typename: 'Query' } });
  });

  it('refuses mutations over GET with 405, and runs nothing', async () => {
    const res = await graphqlGet(hardened, `mutation { ${create('attack-get')} }`, { 'x-graphql-csrf': '1' });
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ errors: [{ message: 'Can only perform a mutation operation from a POST request.', extensions: { code: 'BAD_REQUEST' } }] });
    expect(await attackTitles(hardened)).toEqual([]);
  });

  it('refuses batches', async () => {
    const res = await fetch(`${hardened.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify([{ query: `mutation { ${create('attack-batch')} }` }, { query: '{ __typename }' }]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ errors: [{ message: 'Batching is not supported.', extensions: { code: 'BAD_REQUEST' } }] });
    expect(await attackTitles(hardened)).toEqual([]);
  });

  it('serves no GraphiQL when introspection is off', async () => {
    const res = await fetch(`${hardened.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await res.text()).not.toContain('GraphiQL');
  });

  it('masks unexpected errors: no stack, SQL or path over any transport (the gateway log has them)', async () => {
    // The database goes away under a running gateway: every query fails unexpectedly, not with a typed error.
    const broken = await startTestGateway();
    try {
      await broken.gateway.database.close();
      const request = { query: 'query Broken($s: String) { runs(serviceId: $s) { nodes { id } } }', variables: { s: 'svc' } };
      for (const transport of TRANSPORTS) {
        const outcome = await over(transport, broken.url, request);
        expect(outcome.kind === 'errors' && outcome.errors).toEqual([{ message: 'Unexpected error.', code: 'INTERNAL_SERVER_ERROR' }]);
        expect(outcome.raw).not.toMatch(LEAKS);
      }
      // A live subscription whose replay fails the same way (its stream's events are masked where they are made).
      const subscription = { query: 'subscription Broken($id: ID!) { runEvents(runId: $id) { seq } }', variables: { id: '01890000-0000-7000-8000-000000000000' } };
      for (const transport of ['sse', 'ws'] as const) {
        const outcome = await over(transport, broken.url, subscription);
        expect(outcome.kind === 'errors' && outcome.errors).toEqual([{ message: 'Unexpected error.', code: 'INTERNAL_SERVER_ERROR' }]);
        expect(outcome.raw).not.toMatch(LEAKS);
      }
      expect(JSON.stringify(broken.logs)).toMatch(/Failed query: select/);
    } finally {
      await broken.close().catch(() => {});
    }
  });

  it('answers malformed JSON with 400, masked, on GraphQL and REST', async () => {
    const gql = await fetch(`${hardened.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ __typename }"' });
    expect(gql.status).toBe(400);
    expect(await gql.text()).not.toMatch(LEAKS);
    const rest = await hardened.rest('POST', '/api/actions', '{"title": ');
    expect(rest).toEqual({ status: 400, body: { error: 'invalid_json', detail: 'body is not valid JSON' } });
  });
});

// ---------------------------------------------------------------------------
// Trigger rate limits (hardened gateway: one per 20 s, burst 3, per IP)

describe('trigger rate limit', () => {
  const TRIGGER = 'mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { __typename ... on Error { code } } }';
  const input = { serviceId: 'nowhere', actionId: 'nothing' };

  it('refuses past the burst with rate_limited on GraphQL (HTTP 429 + Retry-After, ws) and REST (429)', async () => {
    // The burst of 3 is shared by every route and transport of one client address.
    for (let i = 0; i < 3; i++) {
      const outcome = await over(i === 1 ? 'ws' : 'http', hardened.url, { query: TRIGGER, variables: { input } });
      expect(outcome.kind, outcome.raw).toBe('data');
    }
    const res = await fetch(`${hardened.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: TRIGGER, variables: { input } }),
    });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(15);
    expect(retryAfter).toBeLessThanOrEqual(20);
    const message = /^Too many triggers; retry in \d+ s\.$/;
    expect(await res.json()).toEqual({ errors: [{ message: expect.stringMatching(message), extensions: { code: 'rate_limited', retryAfterMs: expect.any(Number) } }] });

    const overWs = await over('ws', hardened.url, { query: TRIGGER, variables: { input } });
    expect(overWs.kind === 'errors' && overWs.errors).toEqual([{ message: expect.stringMatching(message), code: 'rate_limited' }]);

    const aliased = await overHttp(hardened.url, { query: `mutation { a: triggerAction(input: { serviceId: "x", actionId: "y" }) { __typename } b: runActionDefinition(input: { definitionId: "x", serviceId: "y" }) { __typename } }` });
    expect(aliased).toMatchObject({ status: 429, errors: [{ code: 'rate_limited' }] });

    const rest = await fetch(`${hardened.url}/api/v1/services/nowhere/actions/nothing`, { method: 'POST' });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(15);
    expect(await rest.json()).toEqual({ error: 'rate_limited', detail: expect.stringMatching(/^too many triggers; retry in \d+ s$/) });
    const execute = await hardened.rest('POST', '/actions/trn:synapse:default:service/x/action/y/execute', {});
    expect(execute).toEqual({ status: 429, body: { error: 'rate_limited', detail: expect.stringMatching(/^too many triggers; retry in \d+ s$/) } });

    // Other operations are not limited.
    expect(await hardened.gql('{ __typename }')).toEqual({ status: 200, data: { __typename: 'Query' } });
  });
});

// ---------------------------------------------------------------------------
// graphql-ws: limits and protocol edges

const wsUrl = (gw: TestGateway) => `${gw.url.replace(/^http/, 'ws')}/graphql`;
const closeOf = (socket: WebSocket) => new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
const opened = (socket: WebSocket) =>
  new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });

describe('graphql-ws', () => {
  it('closes with 4408 when connection_init does not come within 3 s', async () => {
    const socket = new WebSocket(wsUrl(hardened), 'graphql-transport-ws');
    const started = Date.now();
    const closed = closeOf(socket);
    await opened(socket);
    expect(await closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
  });

  it('closes with 4401 on subscribe before the ack', async () => {
    const socket = new WebSocket(wsUrl(hardened), 'graphql-transport-ws');
    const closed = closeOf(socket);
    await opened(socket);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }));
    expect(await closed).toEqual({ code: 4401, reason: 'Unauthorized' });
  });

  it('closes with 4409 on a duplicate operation id', async () => {
    const { socket } = await openAcked(hardened.url);
    const closed = closeOf(socket);
    const subscribe = JSON.stringify({ id: 'same', type: 'subscribe', payload: { query: 'subscription { serviceUpdated { id } }' } });
    socket.send(subscribe);
    socket.send(subscribe);
    expect(await closed).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
  });

  it.each([
    ['not JSON', '{"type": "subscribe"'],
    ['an unknown type', JSON.stringify({ type: 'explode' })],
    ['a subscribe without a query', JSON.stringify({ id: '1', type: 'subscribe', payload: {} })],
  ])('closes with 4400 on a malformed frame: %s', async (_name, frame) => {
    const { socket } = await openAcked(hardened.url);
    const closed = closeOf(socket);
    socket.send(frame);
    expect(await closed).toEqual({ code: 4400, reason: 'Invalid message received' });
  });

  it('terminates a peer that stops answering pings, keeps one that answers', async () => {
    // SYNAPSE_WS_KEEPALIVE_MS=300: a ping every 300 ms, terminated 300 ms after an unanswered one.
    const dead = new WebSocket(wsUrl(hardened), 'graphql-transport-ws', { autoPong: false });
    const alive = new WebSocket(wsUrl(hardened), 'graphql-transport-ws');
    let pings = 0;
    dead.on('ping', () => pings++);
    const deadClosed = closeOf(dead);
    await Promise.all([opened(dead), opened(alive)]);
    for (const socket of [dead, alive]) socket.send(JSON.stringify({ type: 'connection_init' }));
    const { code } = await deadClosed;
    // No close frame: the server dropped the TCP connection.
    expect(code).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 900));
    expect(alive.readyState).toBe(WebSocket.OPEN);
    alive.close();
  });

  it('refuses a connection beyond the per-IP limit with HTTP 429, and accepts again once one closes', async () => {
    // The persisted gateway allows 3 sockets per address.
    const sockets = await Promise.all(Array.from({ length: 3 }, () => openAcked(persisted.url)));
    const extra = new WebSocket(wsUrl(persisted), 'graphql-transport-ws');
    const status = await new Promise<number>((resolve, reject) => {
      extra.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      extra.once('open', () => reject(new Error('a fourth socket was accepted')));
      extra.once('error', () => {});
    });
    expect(status).toBe(429);
    const first = sockets[0]!.socket;
    const closed = closeOf(first);
    first.close(1000);
    await closed;
    // The server counts the TCP connection's end, a moment after the close handshake.
    let again: { socket: WebSocket } | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      again = await openAcked(persisted.url).catch(() => undefined);
      if (!again) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again).toBeDefined();
    for (const s of [...sockets.slice(1).map((x) => x.socket), again!.socket]) s.close(1000);
  });
});
