import { describe, expect, expectTypeOf, it } from 'vitest';
import { backoffDelay, createGatewayClient, endpointUrls } from './client.js';
import {
  ActionConfigQuery,
  AvailableActionsQuery,
  CreateActionDefinitionMutation,
  ActionDefinitionsQuery,
  SetActionConfigMutation,
} from './documents.js';
import type { ResultOf, VariablesOf } from './graphql.js';

describe('endpointUrls', () => {
  it('derives the WebSocket URL from an http(s) one and back', () => {
    expect(endpointUrls('http://127.0.0.1:4000/graphql')).toEqual({ http: 'http://127.0.0.1:4000/graphql', ws: 'ws://127.0.0.1:4000/graphql' });
    expect(endpointUrls('https://gw.example.com/api/graphql?x=1')).toEqual({
      http: 'https://gw.example.com/api/graphql?x=1',
      ws: 'wss://gw.example.com/api/graphql?x=1',
    });
    expect(endpointUrls('wss://gw.example.com/graphql')).toEqual({ http: 'https://gw.example.com/graphql', ws: 'wss://gw.example.com/graphql' });
    expect(endpointUrls('http://a/graphql', 'ws://b/socket').ws).toBe('ws://b/socket');
  });

  it('refuses other schemes', () => {
    expect(() => endpointUrls('ftp://gw.example.com/graphql')).toThrow(/http\(s\) or ws\(s\)/);
  });
});

describe('backoffDelay', () => {
  it('doubles a ceiling up to the maximum and jitters within its upper half', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, options, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(3, options);
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
    // Defaults: 500 ms first ceiling, 30 s at most.
    expect(backoffDelay(0, {}, () => 1)).toBe(500);
    expect(backoffDelay(1_000, {}, () => 1)).toBe(30_000);
  });
});

describe('createGatewayClient over HTTP', () => {
  it('POSTs to the endpoint with the bearer token (read on every request)', async () => {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    let token: string | null = 'first';
    const fakeFetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ data: { actionConfig: null } }), { headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof fetch;
    const client = createGatewayClient({ url: 'https://gw.example.com/graphql', token: () => token, fetch: fakeFetch });
    const result = await client.query(ActionConfigQuery, {}).toPromise();
    expect(result.data).toEqual({ actionConfig: null });
    token = null;
    await client.query(ActionConfigQuery, {}).toPromise();

    expect(calls).toHaveLength(2);
    expect(calls[0]!.url).toBe('https://gw.example.com/graphql');
    expect(calls[0]!.init.method).toBe('POST');
    expect(new Headers(calls[0]!.init.headers).get('authorization')).toBe('Bearer first');
    expect(new Headers(calls[1]!.init.headers).get('authorization')).toBeNull();
    const body = JSON.parse(String(calls[0]!.init.body)) as { operationName: string; query: string };
    expect(body.operationName).toBe('ActionConfig');
    expect(body.query).toContain('fragment ActionConfigFields on ActionConfig');
    await client.dispose();
  });
});

/** Just enough of a browser WebSocket for graphql-ws, speaking graphql-transport-ws. */
class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static instances: FakeSocket[] = [];
  /** Close the first N sockets abnormally right after they open. */
  static dropFirst = 0;
  readyState = FakeSocket.CONNECTING;
  sent: Array<Record<string, unknown>> = [];
  onopen: (() => void) | null = null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  protocol: string;

  constructor(
    readonly url: string,
    protocol: string,
  ) {
    this.protocol = protocol;
    const index = FakeSocket.instances.push(this) - 1;
    setTimeout(() => {
      this.readyState = FakeSocket.OPEN;
      this.onopen?.();
      if (index < FakeSocket.dropFirst) this.close(1006, 'dropped');
    }, 0);
  }

  send(data: string): void {
    const message = JSON.parse(data) as { type: string; id?: string; payload?: unknown };
    this.sent.push(message);
    const reply = (payload: unknown) => setTimeout(() => this.onmessage?.({ data: JSON.stringify(payload) }), 0);
    if (message.type === 'connection_init') reply({ type: 'connection_ack' });
    if (message.type === 'subscribe') {
      reply({ type: 'next', id: message.id, payload: { data: { ping: 'pong' } } });
      reply({ type: 'complete', id: message.id });
    }
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === FakeSocket.CLOSED) return;
    this.readyState = FakeSocket.CLOSED;
    setTimeout(() => this.onclose?.({ code, reason, wasClean: code === 1000 }), 0);
  }

  addEventListener(): void {}
  removeEventListener(): void {}
}

describe('createGatewayClient over graphql-ws', () => {
  it('connects lazily to the derived ws URL with the token in connection_init, and retries with backoff', async () => {
    FakeSocket.instances = [];
    FakeSocket.dropFirst = 2;
    const client = createGatewayClient({
      url: 'http://127.0.0.1:4000/graphql',
      token: 'secret',
      webSocketImpl: FakeSocket,
      retryDelay: { initialMs: 1, maxMs: 2 },
    });
    expect(FakeSocket.instances).toHaveLength(0); // lazy

    const results: unknown[] = [];
    await new Promise<void>((resolve) => {
      const { unsubscribe } = client.subscription('subscription Ping { ping }', {}).subscribe((result) => {
        results.push(result.data);
        unsubscribe();
        resolve();
      });
    });
    expect(results).toEqual([{ ping: 'pong' }]);
    expect(FakeSocket.instances.length).toBe(3);
    const socket = FakeSocket.instances[2]!;
    expect(socket.url).toBe('ws://127.0.0.1:4000/graphql');
    expect(socket.protocol).toBe('graphql-transport-ws');
    expect(socket.sent[0]).toEqual({ type: 'connection_init', payload: { authorization: 'Bearer secret' } });
    expect(socket.sent[1]).toMatchObject({ type: 'subscribe', payload: { query: expect.stringContaining('ping'), operationName: 'Ping' } });
    await client.dispose();
  });
});

describe('typed documents', () => {
  it('infer results and variables from the schema', () => {
    type Created = ResultOf<typeof CreateActionDefinitionMutation>['createActionDefinition'];
    expectTypeOf<'CreateActionDefinitionSuccess'>().toMatchTypeOf<Created['__typename']>();
    expectTypeOf<'ValidationError'>().toMatchTypeOf<Created['__typename']>();
    type Success = Extract<Created, { __typename: 'CreateActionDefinitionSuccess' }>;
    expectTypeOf<Success['actionDefinition']['title']>().toEqualTypeOf<string>();
    expectTypeOf<Success['actionDefinition']['kind']>().toEqualTypeOf<'prompt' | 'command'>();
    expectTypeOf<VariablesOf<typeof ActionDefinitionsQuery>>().toMatchTypeOf<{ first?: number | null; kind?: 'prompt' | 'command' | null }>();

    type Available = ResultOf<typeof AvailableActionsQuery>['availableActions'];
    type Buttons = Extract<Available, { __typename: 'AvailableActionsSuccess' }>['actions'];
    expectTypeOf<Buttons[number]['ui']['variant']>().toEqualTypeOf<'danger' | 'primary' | 'secondary' | 'success'>();
    expectTypeOf<VariablesOf<typeof AvailableActionsQuery>>().toEqualTypeOf<{ type: string; subject: unknown }>();

    type SetResult = ResultOf<typeof SetActionConfigMutation>['setActionConfig'];
    type Invalid = Extract<SetResult, { __typename: 'ActionConfigInvalid' }>;
    expectTypeOf<Invalid['issues'][number]['severity']>().toEqualTypeOf<'error' | 'warning'>();
    expectTypeOf<NonNullable<ResultOf<typeof ActionConfigQuery>['actionConfig']>['version']>().toEqualTypeOf<number>();
  });
});
