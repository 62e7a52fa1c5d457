// The HTTP edge of a real gateway: health, readiness, metrics, request logs,
// GraphiQL, and the same GraphQL over HTTP, SSE and graphql-ws.
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

describe('health and readiness', () => {
  it('answers /healthz and /readyz with the database and broker checks', async () => {
    expect(await gw.rest('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await gw.rest('GET', '/readyz')).toEqual({ status: 200, body: { status: 'ready', checks: { database: 'ok', mqtt: 'ok' } } });
  });
});

describe('GraphiQL', () => {
  it('serves GraphiQL to a browser at /graphql with the WebSocket protocol', async () => {
    const res = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Synapse Gateway');
    expect(html).toContain('GraphiQL');
  });
});

describe('one operation over three transports', () => {
  const CREATE = `mutation CreateOverWs($input: CreateActionDefinitionInput!) {
    createActionDefinition(input: $input) { __typename ... on CreateActionDefinitionSuccess { actionDefinition { id title } } ... on Error { code } }
  }`;

  it('runs a mutation and a query over graphql-ws', async () => {
    const client = createClient({ url: `${gw.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    const run = <T>(query: string, variables?: Record<string, unknown>) =>
      new Promise<T>((resolve, reject) => {
        let result: unknown;
        client.subscribe({ query, variables: variables ?? {} }, { next: (v) => (result = v), error: reject, complete: () => resolve(result as T) });
      });
    const created = await run<{ data: { createActionDefinition: { __typename: string; actionDefinition: { id: string; title: string } } } }>(CREATE, {
      input: { title: 'over ws', kind: 'prompt', spec: { prompt: 'x' } },
    });
    expect(created.data.createActionDefinition.__typename).toBe('CreateActionDefinitionSuccess');
    const id = created.data.createActionDefinition.actionDefinition.id;
    const fetched = await run<{ data: { actionDefinition: { title: string } } }>(`query { actionDefinition(id: "${id}") { title } }`);
    expect(fetched.data.actionDefinition.title).toBe('over ws');
    const invalid = await run<{ data: { createActionDefinition: { __typename: string; code: string } } }>(CREATE, { input: { title: '', kind: 'prompt', spec: {} } });
    expect(invalid.data.createActionDefinition).toEqual({ __typename: 'ValidationError', code: 'invalid_title' });
    await client.dispose();
  });

  it('runs a query over SSE (text/event-stream)', async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: '{ actionDefinitions(first: 1) { pageInfo { hasNextPage } } }' }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const dataLine = text.split('\n').find((line) => line.startsWith('data:'));
    expect(JSON.parse(dataLine!.slice(5))).toEqual({ data: { actionDefinitions: { pageInfo: { hasNextPage: expect.any(Boolean) } } } });
  });

  it('rejects a WebSocket frame over the size limit with close code 1009', async () => {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => ws.once('open', resolve));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(1_048_577));
    expect(await closed).toBe(1009);
  });
});

describe('errors', () => {
  it('masks unexpected errors and never leaks a path or stack', async () => {
    const res = await gw.gql('{ actionDefinitions(first: 1) { nodes { id } } }');
    expect(res.errors).toBeUndefined();
    const bad = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": "{ nope }"}' });
    const body = await bad.text();
    expect(body).toContain('Cannot query field');
    expect(body).not.toMatch(/\/(work|home|tmp|usr)\//);
    expect(body).not.toContain('    at ');
  });

  it('refuses a GraphQL body over 1 MiB with 413', async () => {
    const res = await gw.gql('mutation($s: JSON!) { createActionDefinition(input: { title: "big", kind: "prompt", spec: $s }) { __typename } }', { s: { prompt: 'x'.repeat(1_100_000) } });
    expect(res.status).toBe(413);
  });

  it('refuses a REST body over 1 MiB with 413', async () => {
    const res = await gw.rest('POST', '/api/actions', { title: 'big', kind: 'prompt', spec: { prompt: 'x'.repeat(1_100_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
  });
});

describe('observability', () => {
  it('logs one line per request with duration and operation name', async () => {
    await gw.gql('query NamedForTheLog { actionDefinitions(first: 1) { nodes { id } } }');
    await new Promise((r) => setTimeout(r, 50));
    const line = gw.logs.find((l) => l.msg === 'request' && l.operation === 'NamedForTheLog');
    expect(line).toMatchObject({ method: 'POST', path: '/graphql', status: 200, type: 'query', outcome: 'ok' });
    expect(typeof line!.durationMs).toBe('number');
    const rest = gw.logs.find((l) => l.msg === 'request' && l.path === '/healthz');
    expect(rest).toMatchObject({ method: 'GET', status: 200 });
  });

  it('exposes request and operation counters in Prometheus format', async () => {
    await gw.gql('query CountMe { actionDefinitions(first: 1) { nodes { id } } }');
    await gw.gql('query CountMe { nope }');
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/synapse_graphql_operations_total\{operation="CountMe",type="query",outcome="ok",transport="http"\} 1/);
    expect(text).toMatch(/synapse_graphql_operations_total\{operation="CountMe",type="query",outcome="error",transport="http"\} 1/);
    expect(text).toMatch(/synapse_graphql_operation_duration_seconds_count\{operation="CountMe",type="query",outcome="ok"\} 1/);
    expect(text).toMatch(/synapse_http_requests_total\{route="\/healthz",method="GET",status="2xx"\} \d+/);
    expect(text).toContain('synapse_process_resident_memory_bytes');
  });

  it('caps client-chosen operation names in metric labels', async () => {
    await gw.gql('query Bad_Name_1 { actionDefinitions(first: 1) { nodes { id } } }');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain('operation="Bad_Name_1"');
  });
});
