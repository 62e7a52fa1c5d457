// Liveness: no run stays "running" forever. Silent Axons time out, deadlines
// expire, offline services lose their runs, and cancels end one way or another.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Command, startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

const HEARTBEAT_S = 3;
let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code } } }`;
const RUN = `query R($id: ID!) { run(id: $id) { state reason cancelRequested error events { seq type state reason } } }`;
type Run = { state: string; reason: string | null; cancelRequested: boolean; error: unknown; events: Array<{ seq: number; type: string; state: string; reason: string | null }> };

async function trigger(sid = serviceId, extra: Record<string, unknown> = {}) {
  return (await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId: sid, actionId: 'restart', ...extra } })).data!.triggerAction.run.id;
}
const run = async (id: string) => (await gw.gql<{ run: Run }>(RUN, { id })).data!.run;
const commandOf = (a: TestAxon, runId: string, kind = 'synapse.action.execute') =>
  eventually(() => a.commands.find((c) => c.parameters.runId === runId && c.command === kind) as Command | undefined, 10_000, `${kind} for ${runId}`);
const stateIs = (id: string, state: string, timeoutMs: number) => eventually(async () => ((await run(id)).state === state ? run(id) : undefined), timeoutMs, `${state}`);

beforeAll(async () => {
  gw = await startTestGateway({ SYNAPSE_HEARTBEAT_TIMEOUT_S: String(HEARTBEAT_S) });
  serviceId = `live-${randomUUID().slice(0, 8)}`;
  axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, ttl: 300 });
  await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service);
});
afterAll(async () => {
  await axon?.close();
  await gw?.close();
});

describe('the sweeper', () => {
  it('times out an Axon that accepts and goes silent, within heartbeatTimeout + 1 s', async () => {
    const id = await trigger();
    await axon.event(await commandOf(axon, id), 'accepted');
    const acceptedAt = Date.now();
    const ended = await stateIs(id, 'timed_out', (HEARTBEAT_S + 2) * 1000);
    expect(Date.now() - acceptedAt).toBeLessThan((HEARTBEAT_S + 1) * 1000 + 300);
    expect(ended.reason).toContain('heartbeat timeout');
    expect(ended.events.at(-1)).toMatchObject({ type: 'aionix.openact.action.timed_out', state: 'timed_out' });
  });

  it('keeps a run alive while heartbeats arrive', async () => {
    const id = await trigger();
    const command = await commandOf(axon, id);
    await axon.event(command, 'accepted');
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      await axon.event(command, 'heartbeat');
    }
    expect((await run(id)).state).toBe('running');
    await axon.event(command, 'succeeded');
    await stateIs(id, 'succeeded', 5_000);
  });

  it('expires a run whose deadline passes before the Axon accepts it', async () => {
    const id = await trigger(serviceId, { deadline: new Date(Date.now() + 1_000).toISOString() });
    const ended = await stateIs(id, 'expired', 4_000);
    expect(ended.reason).toContain('deadline');
  });

  it('loses a running run whose service goes offline', async () => {
    const sid = `lost-${randomUUID().slice(0, 8)}`;
    const shortLived = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId: sid, ttl: 1 });
    await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${sid}") { id } }`)).data?.service);
    const id = await trigger(sid);
    const command = await commandOf(shortLived, id);
    await shortLived.event(command, 'started');
    // No more snapshots: offline after its ttl, and the run is lost.
    const ended = await stateIs(id, 'lost', 4_000);
    expect(ended.reason).toContain('offline');
    await shortLived.close();
  });
});

describe('cancelRun', () => {
  const CANCEL = `mutation C($id: ID!) { cancelRun(id: $id) { __typename ... on CancelRunSuccess { run { state cancelRequested } } ... on Error { code } } }`;

  it('sends one synapse.run.cancel and ends cancelled when the Axon confirms', async () => {
    const id = await trigger();
    const command = await commandOf(axon, id);
    await axon.event(command, 'started');
    await stateIs(id, 'running', 5_000);
    const first = await gw.gql<{ cancelRun: Record<string, unknown> }>(CANCEL, { id });
    expect(first.data!.cancelRun).toEqual({ __typename: 'CancelRunSuccess', run: { state: 'running', cancelRequested: true } });
    await gw.gql(CANCEL, { id });
    const cancel = await commandOf(axon, id, 'synapse.run.cancel');
    expect(cancel).toMatchObject({ command: 'synapse.run.cancel', parameters: { runId: id, serviceId }, action_id: 'restart' });
    await axon.event(command, 'cancelled', { reason: 'stopped on request' });
    const ended = await stateIs(id, 'cancelled', 5_000);
    expect(ended.reason).toBe('stopped on request');
    await new Promise((r) => setTimeout(r, 200));
    expect(axon.commands.filter((c) => c.parameters.runId === id && c.command === 'synapse.run.cancel')).toHaveLength(1);
    // The cancel command did not add a step to the run's life.
    expect(ended.events.map((e) => e.type.split('.').pop())).toEqual(['requested', 'dispatched', 'started', 'cancelled']);
  });

  it('ends cancelled with reason unconfirmed when the Axon never confirms', async () => {
    const id = await trigger();
    const command = await commandOf(axon, id);
    await axon.event(command, 'started');
    await gw.gql(CANCEL, { id });
    const ended = await stateIs(id, 'cancelled', (HEARTBEAT_S + 2) * 1000);
    expect(ended.reason).toBe('unconfirmed');
  });

  it.each([
    { name: 'an unknown run', id: () => Promise.resolve('no-such-run'), typename: 'NotFoundError', code: 'not_found' },
    {
      name: 'a finished run',
      id: async () => {
        const id = await trigger();
        await axon.event(await commandOf(axon, id), 'succeeded');
        await stateIs(id, 'succeeded', 5_000);
        return id;
      },
      typename: 'ValidationError',
      code: 'run_finished',
    },
  ])('refuses $name', async ({ id, typename, code }) => {
    const res = await gw.gql<{ cancelRun: Record<string, unknown> }>(CANCEL, { id: await id() });
    expect(res.data!.cancelRun).toEqual({ __typename: typename, code });
  });
});
