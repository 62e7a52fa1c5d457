// Services over MQTT and triggers through GraphQL and REST, end to end with a
// test Axon on a real broker (embedded, or MQTT_URL's when set).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Command, startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;
const brokerUrl = () => gw.gateway.brokerUrl;

const TRIGGER = `mutation Trigger($input: TriggerActionInput!) {
  triggerAction(input: $input) {
    __typename
    ... on TriggerPayload { replayed heartbeatTimeout statusTtl run { id state serviceId actionId commandId traceId input idempotencyKey origin } }
    ... on Error { code field message }
  }
}`;
type TriggerResult = { triggerAction: Record<string, unknown> & { run?: Record<string, unknown> } };

const SERVICE = `query Service($id: ID!) { service(id: $id) { id name status ttl lastSeen runners shape actions { id label style confirm confirmMessage } snapshot } }`;
const RUN = `query Run($id: ID!) { run(id: $id) { id state events { seq type state reason } } }`;

async function waitForService(id: string, status = 'online') {
  return eventually(async () => {
    const res = await gw.gql<{ service: { status: string } | null }>(SERVICE, { id });
    return res.data?.service?.status === status ? res.data.service : undefined;
  }, 10_000, `service ${id} ${status}`);
}

beforeAll(async () => {
  gw = await startTestGateway();
  serviceId = `svc-${randomUUID().slice(0, 8)}`;
  axon = await startTestAxon({ url: brokerUrl(), prefix: gw.prefix, serviceId, actions: ['restart', 'drop_cache'], runners: ['command'] });
  await waitForService(serviceId);
});
afterAll(async () => {
  await axon?.close();
  await gw?.close();
});

describe('discovery', () => {
  it('lists the announced service with its normalised actions', async () => {
    const res = await gw.gql<{ service: Record<string, unknown> }>(SERVICE, { id: serviceId });
    expect(res.data!.service).toMatchObject({
      id: serviceId,
      status: 'online',
      ttl: 60,
      shape: 'v1',
      runners: ['command'],
      actions: [
        { id: 'restart', label: 'restart', style: null, confirm: false, confirmMessage: null },
        { id: 'drop_cache', label: 'drop_cache', style: null, confirm: false, confirmMessage: null },
      ],
    });
    const list = await gw.gql<{ services: Array<{ id: string }> }>('query { services(status: online) { id } }');
    expect(list.data!.services.map((s) => s.id)).toContain(serviceId);
  });

  it('replaces the snapshot with the next one', async () => {
    const id = `svc-${randomUUID().slice(0, 8)}`;
    const other = await startTestAxon({ url: brokerUrl(), prefix: gw.prefix, serviceId: id, actions: ['a'] });
    await waitForService(id);
    await other.announce({ components: { controls: { id: 'controls', type: 'action_group', items: [{ action_id: 'b', label: 'B', confirm: 'Sure?' }] } } });
    const updated = await eventually(async () => {
      const res = await gw.gql<{ service: { actions: Array<{ id: string }> } }>(SERVICE, { id });
      return res.data!.service.actions[0]?.id === 'b' ? res.data!.service : undefined;
    });
    expect(updated.actions).toEqual([{ id: 'b', label: 'B', style: null, confirm: true, confirmMessage: 'Sure?' }]);
    await other.close();
  });

  it('marks a silent service offline within 1 s of its ttl, and online again on its next snapshot', async () => {
    const id = `svc-${randomUUID().slice(0, 8)}`;
    const quiet = await startTestAxon({ url: brokerUrl(), prefix: gw.prefix, serviceId: id, ttl: 1 });
    await waitForService(id);
    const announcedAt = Date.now();
    await waitForService(id, 'offline');
    expect(Date.now() - announcedAt).toBeLessThan(1_000 + 1_000 + 250);
    await quiet.announce();
    await waitForService(id, 'online');
    await quiet.close();
  });

  it('applies a service\'s snapshots in the order they arrive: online then offline back to back ends offline', async () => {
    const ids = Array.from({ length: 20 }, () => `order-${randomUUID().slice(0, 8)}`);
    const snapshot = (id: string, status: string) => JSON.stringify({ api_version: 'v1', id, name: 'Order', status, ttl: 60, layout: { type: 'sections', root: [] }, components: {} });
    // Not awaited one by one: each pair is on the wire together, as an Axon's start and stop are.
    await Promise.all(
      ids.flatMap((id) => [
        axon.client.publishAsync(`${gw.prefix}/discovery/${id}`, snapshot(id, 'online'), { qos: 1 }),
        axon.client.publishAsync(`${gw.prefix}/discovery/${id}`, snapshot(id, 'offline'), { qos: 1 }),
      ]),
    );
    for (const id of ids) await waitForService(id, 'offline');
    // Settled: nothing applied late flips one back.
    await new Promise((r) => setTimeout(r, 300));
    const statuses = await Promise.all(ids.map(async (id) => (await gw.gql<{ service: { status: string } }>(SERVICE, { id })).data!.service.status));
    expect(statuses).toEqual(ids.map(() => 'offline'));
  });

  it.each([
    { name: 'not JSON', payload: '{nope', reason: 'invalid_json' },
    { name: 'a JSON array', payload: '[]', reason: 'not_object' },
    { name: 'wrong api_version', payload: { api_version: 'v2' }, reason: 'invalid_api_version' },
    { name: 'id differs from the topic', payload: { id: 'someone-else' }, reason: 'id_mismatch' },
    { name: 'unknown status', payload: { status: 'sleeping' }, reason: 'invalid_status' },
    { name: 'ttl zero', payload: { ttl: 0 }, reason: 'invalid_ttl' },
    { name: 'layout child missing', payload: { layout: { type: 'sections', root: [{ type: 'section', title: 'x', children: ['ghost'] }] } }, reason: 'unknown_component' },
    { name: 'unknown field', payload: { colour: 'red' }, reason: 'unknown_field' },
    { name: 'widgets mixed into v1', payload: { widgets: [] }, reason: 'mixed_shape' },
    { name: 'over 256 KiB', payload: { description: 'x'.repeat(300 * 1024) }, reason: 'too_large' },
  ])('rejects a snapshot that is $name, counts it, and keeps serving', async ({ payload, reason }) => {
    const id = `bad-${randomUUID().slice(0, 8)}`;
    const base = { api_version: 'v1', id, name: 'Bad', status: 'online', ttl: 30, layout: { type: 'sections', root: [] }, components: {} };
    const body = typeof payload === 'string' ? payload : JSON.stringify({ ...base, ...payload });
    const metric = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const match = new RegExp(`synapse_discovery_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text);
      return match ? Number(match[1]) : 0;
    };
    const before = await metric();
    await axon.client.publishAsync(`${gw.prefix}/discovery/${id}`, body, { qos: 1 });
    await eventually(async () => (await metric()) > before, 5_000, `${reason} counted`);
    const res = await gw.gql<{ service: unknown }>(SERVICE, { id });
    expect(res.data!.service).toBeNull();
    expect((await gw.rest('GET', '/healthz')).status).toBe(200);
  });
});

describe('triggerAction', () => {
  it('commits a run and delivers the exact envelope to the Axon, then marks it dispatched', async () => {
    const before = axon.commands.length;
    const res = await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { force: true, n: 1 } } });
    const payload = res.data!.triggerAction;
    expect(payload.__typename).toBe('TriggerPayload');
    expect(payload).toMatchObject({ replayed: false, heartbeatTimeout: 30, statusTtl: 600 });
    const run = payload.run!;
    expect(run).toMatchObject({ state: 'requested', serviceId, actionId: 'restart', input: { force: true, n: 1 }, origin: 'graphql' });
    const [command] = (await axon.waitForCommands(before + 1)).slice(before);
    expect(command).toEqual({
      schemaVersion: '1.1.0',
      id: run.commandId,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      command: 'synapse.action.execute',
      source: 'trn:synapse:default:gateway',
      target: `trn:synapse:default:action/${serviceId}/restart`,
      tenant: 'default',
      traceId: run.traceId,
      parameters: { input: { force: true, n: 1 }, runId: run.id, serviceId, actionId: 'restart' },
      correlationId: run.commandId,
      heartbeatTimeout: 30,
      action_id: 'restart',
      issued_by: 'graphql',
    });
    expect(String(run.traceId)).toMatch(/^[0-9a-f]{32}$/);
    const dispatched = await eventually(async () => {
      const r = await gw.gql<{ run: { state: string; events: Array<{ seq: number; type: string; state: string }> } }>(RUN, { id: run.id });
      return r.data!.run.state === 'dispatched' ? r.data!.run : undefined;
    });
    expect(dispatched.events.map((e) => [e.seq, e.type, e.state])).toEqual([
      [1, 'aionix.openact.action.requested', 'requested'],
      [2, 'aionix.openact.action.dispatched', 'dispatched'],
    ]);
  });

  it('answers with the run as stored: the fields it wrote, the database\'s defaults and times, and the input in the stored key order', async () => {
    // Fields the run keeps when the relay marks it dispatched (its state, reason and times change then).
    const STABLE = 'id serviceId actionId definitionVersion cancelRequested input output error commandId traceId idempotencyKey origin heartbeatTimeout statusTtl deadline createdAt';
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    // jsonb keeps object keys by length, then bytes: the answer must not show the order sent.
    const input = { zeta: 1, a: { long_key: true, b: [3, { yy: 1, x: 2 }] }, mid: 'm' };
    const res = await gw.gql<{ triggerAction: { run: Record<string, unknown> } }>(
      `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { ${STABLE} state reason dispatchedAt finishedAt } } } }`,
      { input: { serviceId, actionId: 'restart', input, deadline } },
    );
    const { state, reason, dispatchedAt, finishedAt, ...answered } = res.data!.triggerAction.run;
    expect({ state, reason, dispatchedAt, finishedAt }).toEqual({ state: 'requested', reason: null, dispatchedAt: null, finishedAt: null });
    const read = (await gw.gql<{ run: Record<string, unknown> }>(`query R($id: ID!) { run(id: $id) { ${STABLE} } }`, { id: answered.id })).data!.run;
    expect(JSON.stringify(answered)).toBe(JSON.stringify(read));
    expect(answered).toMatchObject({ deadline, cancelRequested: false, output: null, error: null, origin: 'graphql' });
    expect(JSON.stringify(answered.input)).toBe('{"a":{"b":[3,{"x":2,"yy":1}],"long_key":true},"mid":"m","zeta":1}');
  });

  it.each([
    { name: 'unknown service', input: { serviceId: 'nobody-here', actionId: 'restart' }, typename: 'NotFoundError', code: 'unknown_service', field: 'serviceId' },
    { name: 'undeclared action', input: { actionId: 'format_disk' }, typename: 'NotFoundError', code: 'unknown_action', field: 'actionId' },
    { name: 'service id with a slash', input: { serviceId: 'a/b', actionId: 'restart' }, typename: 'ValidationError', code: 'invalid_service_id', field: 'serviceId' },
    { name: 'action id with a wildcard', input: { actionId: '#' }, typename: 'ValidationError', code: 'invalid_action_id', field: 'actionId' },
    { name: 'wait over 30 s', input: { actionId: 'restart', wait: 30_001 }, typename: 'ValidationError', code: 'invalid_wait', field: 'wait' },
    { name: 'negative wait', input: { actionId: 'restart', wait: -1 }, typename: 'ValidationError', code: 'invalid_wait', field: 'wait' },
    { name: 'idempotency key too long', input: { actionId: 'restart', idempotencyKey: 'k'.repeat(256) }, typename: 'ValidationError', code: 'invalid_idempotency_key', field: 'idempotencyKey' },
    { name: 'deadline in the past', input: { actionId: 'restart', deadline: '2001-01-01T00:00:00Z' }, typename: 'ValidationError', code: 'invalid_deadline', field: 'deadline' },
    { name: 'input over 256 KiB', input: { actionId: 'restart', input: { blob: 'x'.repeat(300 * 1024) } }, typename: 'ValidationError', code: 'invalid_input', field: 'input' },
  ])('rejects: $name → $code', async ({ input, typename, code, field }) => {
    const before = axon.commands.length;
    const res = await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, ...input } });
    expect(res.data!.triggerAction).toMatchObject({ __typename: typename, code, field });
    await new Promise((r) => setTimeout(r, 100));
    expect(axon.commands.length).toBe(before);
  });

  it('refuses an offline service with service_offline', async () => {
    const id = `svc-${randomUUID().slice(0, 8)}`;
    const leaving = await startTestAxon({ url: brokerUrl(), prefix: gw.prefix, serviceId: id });
    await waitForService(id);
    await leaving.announce({ status: 'offline' });
    await waitForService(id, 'offline');
    const res = await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId: id, actionId: 'restart' } });
    expect(res.data!.triggerAction).toMatchObject({ __typename: 'UnavailableError', code: 'service_offline' });
    await leaving.close();
  });

  it('replays the same request with the same key, and refuses a different one', async () => {
    const key = `key-${randomUUID()}`;
    const before = axon.commands.length;
    const first = (await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { a: 1 }, idempotencyKey: key } })).data!.triggerAction;
    const second = (await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { a: 1 }, idempotencyKey: key } })).data!.triggerAction;
    expect(first.replayed).toBe(false);
    expect(second).toMatchObject({ replayed: true, run: { id: first.run!.id } });
    const conflict = (await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { a: 2 }, idempotencyKey: key } })).data!.triggerAction;
    expect(conflict).toMatchObject({ __typename: 'ConflictError', code: 'idempotency_conflict', field: 'idempotencyKey' });
    await axon.waitForCommands(before + 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(axon.commands.slice(before).filter((c) => c.parameters.runId === first.run!.id)).toHaveLength(1);
    expect(axon.commands.length).toBe(before + 1);
  });

  it('creates exactly one run for 50 concurrent triggers with one key', async () => {
    const key = `key-${randomUUID()}`;
    const before = axon.commands.length;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'drop_cache', idempotencyKey: key } })),
    );
    const ids = new Set(results.map((r) => r.data!.triggerAction.run!.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.data!.triggerAction.replayed === false)).toHaveLength(1);
    await axon.waitForCommands(before + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(axon.commands.length).toBe(before + 1);
  });

  it('returns at once without wait, with the run and its timers', async () => {
    const started = Date.now();
    const res = await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart' } });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res.data!.triggerAction).toMatchObject({ heartbeatTimeout: 30, statusTtl: 600, run: { state: 'requested' } });
  });

  it('waits up to `wait` ms for a terminal state and then answers with the current state', async () => {
    const started = Date.now();
    const res = await gw.gql<TriggerResult>(TRIGGER, { input: { serviceId, actionId: 'restart', wait: 600 } });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(550);
    expect(res.data!.triggerAction.run!.state).toBe('dispatched');
  });
});

describe('runActionDefinition', () => {
  const RUN_DEFINITION = `mutation Run($input: RunActionDefinitionInput!) {
    runActionDefinition(input: $input) { __typename ... on TriggerPayload { run { id actionId commandId } } ... on Error { code field } }
  }`;

  it('sends the definition with the command to a service that runs its kind', async () => {
    const created = (await gw.rest('POST', '/api/actions', { title: 'Hi', kind: 'command', spec: { cmd: 'echo hi', timeout_s: 5 } })).body.action as { id: number; version: number };
    const before = axon.commands.length;
    const res = await gw.gql<{ runActionDefinition: { run: { id: string; actionId: string } } }>(RUN_DEFINITION, { input: { definitionId: String(created.id), serviceId, input: { x: 1 } } });
    expect(res.data!.runActionDefinition.run.actionId).toBe(`definition-${created.id}`);
    const [command] = (await axon.waitForCommands(before + 1)).slice(before);
    expect((command as Command).parameters).toEqual({
      input: { x: 1 },
      runId: res.data!.runActionDefinition.run.id,
      serviceId,
      actionId: `definition-${created.id}`,
      definition: { id: String(created.id), kind: 'command', spec: { cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 5 }, version: 1 },
    });
  });

  it.each([
    { name: 'unknown definition', setup: async () => '999999', code: 'unknown_definition', typename: 'NotFoundError' },
    {
      name: 'disabled definition',
      setup: async () => String(((await gw.rest('POST', '/api/actions', { title: 'Off', kind: 'command', spec: { cmd: 'x' }, enabled: false })).body.action as { id: number }).id),
      code: 'definition_disabled',
      typename: 'UnavailableError',
    },
    {
      name: 'a kind the service does not run',
      setup: async () => String(((await gw.rest('POST', '/api/actions', { title: 'P', kind: 'prompt', spec: { prompt: 'x' } })).body.action as { id: number }).id),
      code: 'runner_not_supported',
      typename: 'UnavailableError',
    },
  ])('refuses $name', async ({ setup, code, typename }) => {
    const definitionId = await setup();
    const res = await gw.gql<{ runActionDefinition: Record<string, unknown> }>(RUN_DEFINITION, { input: { definitionId, serviceId } });
    expect(res.data!.runActionDefinition).toMatchObject({ __typename: typename, code });
  });
});

describe('REST compatibility', () => {
  it('POST /api/v1/services/{id}/actions/{action_id} publishes the command with the legacy fields', async () => {
    const before = axon.commands.length;
    const res = await gw.rest('POST', `/api/v1/services/${serviceId}/actions/restart`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ok: true, runId: expect.any(String), commandId: expect.any(String) });
    const [command] = (await axon.waitForCommands(before + 1)).slice(before);
    expect(command).toMatchObject({ action_id: 'restart', issued_by: 'user', id: res.body.commandId });
  });

  it.each([
    { path: '/api/v1/services/nobody/actions/restart', error: 'unknown_service' },
    { path: () => `/api/v1/services/${serviceId}/actions/format_disk`, error: 'unknown_action' },
    { path: '/api/v1/services/bad%2Fid/actions/restart', error: 'unknown_service' },
  ])('answers 404 {error, detail} for $error', async ({ path, error }) => {
    const res = await gw.rest('POST', typeof path === 'string' ? path : path());
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error, detail: expect.any(String) });
  });

  function envelope(overrides: Record<string, unknown> = {}) {
    return {
      schemaVersion: '1.1.0',
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      command: 'aionix.openact.action.execute',
      source: 'trn:stepflow:default:engine',
      target: `trn:synapse:default:action/${serviceId}/restart`,
      tenant: 'default',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parameters: { input: { reason: 'stepflow' } },
      correlationId: 'c-1',
      ...overrides,
    };
  }

  it('POST /actions/{trn}/execute answers 202 with the run handle when the run does not end within the wait', async () => {
    const body = envelope();
    const before = axon.commands.length;
    const res = await gw.rest('POST', `/actions/${encodeURIComponent(body.target)}/execute?wait=0`, body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ runId: expect.any(String), phase: 'running', heartbeatTimeout: 30, statusTtl: 600 });
    const [command] = (await axon.waitForCommands(before + 1)).slice(before);
    expect(command).toMatchObject({ traceId: body.traceId, parameters: { input: { reason: 'stepflow' }, runId: res.body.runId } });
    // The same command again is the same run.
    const again = await gw.rest('POST', `/actions/${body.target}/execute?wait=0`, body);
    expect(again.body.runId).toBe(res.body.runId);
  });

  it.each([
    { name: 'unsupported schemaVersion', body: () => envelope({ schemaVersion: '2.0.0' }), status: 422, error: 'unsupported_schema_version' },
    { name: 'missing traceId', body: () => envelope({ traceId: undefined }), status: 400, error: 'invalid_envelope', field: 'traceId' },
    { name: 'timestamp not RFC 3339', body: () => envelope({ timestamp: 'yesterday' }), status: 400, error: 'invalid_envelope', field: 'timestamp' },
    { name: 'parameters not an object', body: () => envelope({ parameters: [] }), status: 400, error: 'invalid_envelope', field: 'parameters' },
    { name: 'target differs from the path', body: () => envelope(), path: 'trn:synapse:default:action/other/restart', status: 400, error: 'target_mismatch' },
    { name: 'target names an unknown action', body: () => envelope({ target: `trn:synapse:default:action/${serviceId}/nope` }), status: 404, error: 'unknown_action' },
    { name: 'body is not JSON', body: () => '{', status: 400, error: 'invalid_json' },
  ])('POST /actions/{trn}/execute: $name → $status', async ({ body, path, status, error, field }) => {
    const value = body();
    const target = path ?? (typeof value === 'string' ? `trn:synapse:default:action/${serviceId}/restart` : String(value.target));
    const res = await gw.rest('POST', `/actions/${target}/execute?wait=0`, value);
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error, detail: expect.any(String), ...(field ? { field } : {}) });
  });

  it('POST /actions/{trn}/execute answers 409 when an idempotency key is reused for another request', async () => {
    const key = `k-${randomUUID()}`;
    const first = await gw.rest('POST', `/actions/${envelope().target}/execute?wait=0`, envelope({ idempotencyKey: key }));
    expect(first.status).toBe(202);
    const second = await gw.rest('POST', `/actions/${envelope().target}/execute?wait=0`, envelope({ idempotencyKey: key, parameters: { input: { other: true } } }));
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('idempotency_conflict');
  });
});
