// @synapse-gateway/client/urql in Node against a real gateway: typed queries
// and mutations over HTTP, result unions with typed errors, the graphql-ws
// connection (lazy, reconnect after dispose), and watchRun over runEvents with
// a killed socket (its own resubscription, and graphql-ws's transparent one).
import {
  ActionConfigQuery,
  ActionDefinitionQuery,
  ActionDefinitionsQuery,
  AvailableActionsQuery,
  createGatewayClient,
  CreateActionDefinitionMutation,
  DeleteActionDefinitionMutation,
  type GatewayClient,
  SetActionConfigMutation,
  UpdateActionDefinitionMutation,
  watchRun,
} from '@synapse-gateway/client/urql';
import { parseActionConfig, visibleActions } from '@synapse-gateway/client/dsl';
import type { Exchange } from '@urql/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipe, tap } from 'wonka';
import WebSocket from 'ws';
import { type Command, startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

const KEY = randomBytes(32).toString('base64url');
let gw: TestGateway;
let client: GatewayClient;
let axon: TestAxon;
let serviceId: string;
beforeAll(async () => {
  // A gateway that requires keys, so every operation below proves the client sends its token.
  gw = await startTestGateway({ SYNAPSE_BOOTSTRAP_ADMIN_KEY: KEY });
  client = createGatewayClient({ url: `${gw.url}/graphql`, token: KEY, webSocketImpl: WebSocket, retryDelay: { initialMs: 10, maxMs: 50 } });
  serviceId = `urql-${randomUUID().slice(0, 8)}`;
  axon = await startTestAxon({ url: await gw.axonUrl(serviceId), prefix: gw.prefix, serviceId, actions: ['work'] });
  await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
});
afterAll(async () => {
  await client?.dispose();
  await axon?.close();
  await gw?.close();
});

const CONFIG = `
actions:
  approve:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body: { status: processing, note: 'approved {{action.title}}' }
    ui: { label: Approve, variant: primary, icon: Check }
  restart:
    trigger: { serviceId: memory-sidecar-python, actionId: restart_process, input: { reason: '{{action.payload.reason}}' } }
    ui: { label: Restart, variant: danger, icon: RotateCcw, confirmationMessage: Restart the process? }
types:
  research:
    actions:
      - action: approve
        when: { field: status, op: eq, value: pending }
      - action: restart
        when: { field: payload.reason, op: exists }
`;

describe('queries and mutations over HTTP', () => {
  it('creates, reads, updates, lists and deletes a definition with typed results', async () => {
    const created = await client
      .mutation(CreateActionDefinitionMutation, { input: { title: 'Say hello', kind: 'command', spec: { cmd: 'echo hello' } } })
      .toPromise();
    expect(created.error).toBeUndefined();
    const result = created.data!.createActionDefinition;
    if (result.__typename !== 'CreateActionDefinitionSuccess') throw new Error(`unexpected ${result.__typename}`);
    const definition = result.actionDefinition;
    expect(definition).toMatchObject({ title: 'Say hello', kind: 'command', enabled: true, version: 1 });
    expect(definition.spec).toMatchObject({ __typename: 'CommandSpec', cmd: 'echo hello', cwd: '.' });
    expect(typeof definition.createdAt).toBe('string');

    const fetched = await client.query(ActionDefinitionQuery, { id: definition.id }).toPromise();
    expect(fetched.data?.actionDefinition?.title).toBe('Say hello');

    const updated = await client.mutation(UpdateActionDefinitionMutation, { id: definition.id, input: { title: 'Say hi' } }).toPromise();
    const update = updated.data!.updateActionDefinition;
    expect(update.__typename === 'UpdateActionDefinitionSuccess' && update.actionDefinition).toMatchObject({ title: 'Say hi', version: 2 });

    const listed = await client.query(ActionDefinitionsQuery, { first: 10, kind: 'command' }).toPromise();
    expect(listed.data?.actionDefinitions.nodes.map((n) => n.id)).toContain(definition.id);
    expect(listed.data?.actionDefinitions.pageInfo.hasNextPage).toBe(false);

    const deleted = await client.mutation(DeleteActionDefinitionMutation, { id: definition.id }).toPromise();
    expect(deleted.data?.deleteActionDefinition).toEqual({ __typename: 'DeleteActionDefinitionSuccess', id: definition.id });
    const gone = await client.query(ActionDefinitionQuery, { id: definition.id }).toPromise();
    expect(gone.data?.actionDefinition).toBeNull();
  });

  it('answers failures as typed members of the result unions', async () => {
    const invalid = await client.mutation(CreateActionDefinitionMutation, { input: { title: '  ', kind: 'prompt', spec: { prompt: 'x' } } }).toPromise();
    expect(invalid.error).toBeUndefined();
    expect(invalid.data?.createActionDefinition).toMatchObject({ __typename: 'ValidationError', code: 'invalid_title', field: 'title' });

    const missing = await client.mutation(DeleteActionDefinitionMutation, { id: '999999' }).toPromise();
    expect(missing.data?.deleteActionDefinition).toMatchObject({ __typename: 'NotFoundError', code: 'not_found', field: 'id' });

    const rejected = await client.mutation(SetActionConfigMutation, { yaml: 'actions: {}\ntypes:\n  t:\n    actions: [{ action: ghost }]\n' }).toPromise();
    const set = rejected.data!.setActionConfig;
    if (set.__typename !== 'ActionConfigInvalid') throw new Error(`unexpected ${set.__typename}`);
    expect(set.code).toBe('invalid_action_config');
    expect(set.issues).toEqual([{ path: 'types.t.actions[0].action', code: 'unknown_action', severity: 'error', message: expect.any(String) }]);

    const tooBig = await client.query(AvailableActionsQuery, { type: 'research', subject: { blob: 'x'.repeat(70_000) } }).toPromise();
    expect(tooBig.data?.availableActions).toMatchObject({ __typename: 'ValidationError', code: 'subject_too_large' });
  });

  it('sets a configuration and gets the same buttons as visibleActions', async () => {
    const set = await client.mutation(SetActionConfigMutation, { yaml: CONFIG }).toPromise();
    const stored = set.data!.setActionConfig;
    if (stored.__typename !== 'SetActionConfigSuccess') throw new Error(`unexpected ${stored.__typename}`);
    expect(stored.actionConfig).toMatchObject({ version: 1, warnings: [] });

    const current = await client.query(ActionConfigQuery, {}).toPromise();
    expect(current.data?.actionConfig).toMatchObject({ version: 1, source: CONFIG });

    const config = parseActionConfig(CONFIG).config!;
    const subject = { id: 'a-1', title: 'CRDTs', status: 'pending', payload: { reason: 'leak' } };
    const answer = await client.query(AvailableActionsQuery, { type: 'research', subject }).toPromise();
    const available = answer.data!.availableActions;
    if (available.__typename !== 'AvailableActionsSuccess') throw new Error(`unexpected ${available.__typename}`);
    expect(available.actions).toEqual(
      visibleActions(config, 'research', subject).map((b) => ({
        id: b.id,
        ui: { confirmationMessage: null, ...b.ui },
        endpoint: b.endpoint ? { body: null, ...b.endpoint } : null,
        trigger: b.trigger ? { input: null, ...b.trigger } : null,
      })),
    );
    expect(available.actions.map((a) => a.id)).toEqual(['approve', 'restart']);
  });
});

describe('the WebSocket connection', () => {
  const overWs = (c: GatewayClient) =>
    new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      c.ws.subscribe({ query: 'query OverWs { actionConfig { version } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
    });

  it('connects lazily, sends the token, and reconnects after dispose', async () => {
    let reads = 0;
    const own = createGatewayClient({
      url: `${gw.url}/graphql`,
      token: () => {
        reads += 1;
        return KEY;
      },
      webSocketImpl: WebSocket,
    });
    const events: string[] = [];
    own.ws.on('connected', () => events.push('connected'));
    own.ws.on('closed', () => events.push('closed'));
    expect(events).toEqual([]); // nothing until the first operation

    expect(await overWs(own)).toEqual({ data: { actionConfig: { version: 1 } } });
    await own.dispose();
    // A fresh socket after dispose (the old listeners belonged to the old socket client).
    const again: string[] = [];
    own.ws.on('connected', (_socket, payload) => again.push(`connected ${JSON.stringify(payload ?? null)}`));
    expect(await overWs(own)).toEqual({ data: { actionConfig: { version: 1 } } });
    expect(events).toEqual(['connected', 'closed']);
    expect(again).toHaveLength(1);
    // Read again for the second connection: a refreshed token is used after a reconnect.
    expect(reads).toBe(2);
    await own.dispose();
  });

  it('reports a closed gateway to an operation once retries run out', async () => {
    const down = createGatewayClient({ url: 'http://127.0.0.1:9/graphql', webSocketImpl: WebSocket, retryAttempts: 2, retryDelay: { initialMs: 5, maxMs: 10 } });
    await expect(overWs(down)).rejects.toBeDefined();
    await down.dispose();
  });

  it('watchRun ends with failed, without retrying, when the server refuses the subscription', async () => {
    const errors: Array<[unknown, boolean]> = [];
    const watch = watchRun(client, 'no-such-run', () => {}, { fields: 'seq noSuchField', onError: (e, retry) => errors.push([e, retry]) });
    expect(await watch.done).toBe('failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[1]).toBe(false);
    expect(String(errors[0]?.[0])).toContain('[GraphQL]');
  });
});

describe('watchRun against runEvents', () => {
  const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;

  async function startRun(): Promise<{ runId: string; command: Command }> {
    const res = await gw.gql<{ triggerAction: { run?: { id: string }; code?: string } }>(TRIGGER, { input: { serviceId, actionId: 'work', input: {} } });
    const runId = res.data?.triggerAction.run?.id;
    if (!runId) throw new Error(`trigger failed: ${JSON.stringify(res)}`);
    const command = await eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, `command of ${runId}`);
    return { runId, command };
  }

  /** A client whose subscription operations (and their variables) are recorded, and whose socket a test can kill. */
  function instrumentedClient(retryAttempts: number) {
    const subscriptions: unknown[] = [];
    const sockets: WebSocket[] = [];
    const spy: Exchange =
      ({ forward }) =>
      (operations$) =>
        forward(pipe(operations$, tap((op) => op.kind === 'subscription' && subscriptions.push(op.variables))));
    const own = createGatewayClient({
      url: `${gw.url}/graphql`,
      token: KEY,
      webSocketImpl: WebSocket,
      retryAttempts,
      retryDelay: { initialMs: 10, maxMs: 40 },
      exchanges: [spy],
      ws: { on: { connected: (socket) => sockets.push(socket as WebSocket) } },
    });
    return { own, subscriptions, sockets };
  }

  it('resubscribes with after = the last seq when the socket dies, and delivers each event once', async () => {
    const { own, subscriptions, sockets } = instrumentedClient(0); // graphql-ws gives up at once: watchRun resubscribes
    const { runId, command } = await startRun();
    const seen: number[] = [];
    const errors: Array<[unknown, boolean]> = [];
    const watch = watchRun(own, runId, (event) => seen.push(event.seq), { retryDelay: { initialMs: 10, maxMs: 40 }, onError: (e, r) => errors.push([e, r]) });
    await eventually(() => seen.length >= 2, 10_000, 'requested and dispatched');
    await axon.event(command, 'accepted');
    await eventually(() => seen.length >= 3, 10_000, 'accepted');

    sockets[0]!.terminate();
    await eventually(() => subscriptions.length >= 2 && sockets.length >= 2, 10_000, 'resubscription');
    expect(subscriptions).toEqual([
      { runId, after: null },
      { runId, after: 3 },
    ]);
    expect(errors[0]?.[1]).toBe(true);

    await axon.event(command, 'progress', { progress: 0.5 });
    await axon.event(command, 'succeeded', { output: { answer: 42 } });
    expect(await watch.done).toBe('completed');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(watch.lastSeq).toBe(5);
    await own.dispose();
  });

  it('drops the replay when graphql-ws reconnects by itself with the original cursor', async () => {
    const { own, subscriptions, sockets } = instrumentedClient(5); // graphql-ws reconnects and re-sends after: null
    const { runId, command } = await startRun();
    const events: Array<{ seq: number; type: string }> = [];
    const watch = watchRun<{ seq: number; type: string }>(own, runId, (event) => events.push(event), { fields: 'seq type' });
    await eventually(() => events.length >= 2, 10_000, 'requested and dispatched');
    await axon.event(command, 'accepted');
    await eventually(() => events.length >= 3, 10_000, 'accepted');

    sockets[0]!.terminate();
    await eventually(() => sockets.length >= 2, 10_000, 'reconnection');
    await axon.event(command, 'succeeded', { output: {} });
    expect(await watch.done).toBe('completed');
    expect(subscriptions).toHaveLength(1); // the same urql operation throughout
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => e.type.replace('aionix.openact.action.', ''))).toEqual(['requested', 'dispatched', 'accepted', 'succeeded']);
    await own.dispose();
  });
});
