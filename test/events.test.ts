// Execution events end to end: an Axon reports progress and outcomes, the
// gateway stores each once in order and streams them over graphql-ws and SSE.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, TestAxon } from './helpers/axon.js';
import type { TestGateway } from './helpers/gateway.js';
import { type GatewayWithAxon, startGatewayWithAxon } from './helpers/gateway-with-axon.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribe.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id state } } ... on Error { code message } } }`;
const RUN_EVENTS = `subscription E($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { seq type state reason data } }`;
type Ev = { seq: number; type: string; state: string; reason: string | null; data: Record<string, unknown> | null };
const pickEvent = (d: Record<string, unknown>) => d.runEvents as Ev;

async function trigger(actionId = 'work', input: unknown = {}): Promise<string> {
  const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId, input } });
  return res.data!.triggerAction.run.id;
}
async function commandFor(runId: string): Promise<Command> {
  return eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, `command of ${runId}`);
}
async function runState(runId: string) {
  return (await gw.gql<{ run: { state: string; output: unknown; error: unknown; reason: string | null } }>(`query { run(id: "${runId}") { state output error reason } }`)).data!.run;
}

let fixture: GatewayWithAxon | undefined;
beforeAll(async () => {
  fixture = await startGatewayWithAxon('ev');
  ({ gw, axon, serviceId } = fixture);
});
afterAll(async () => {
  await fixture?.close();
});

describe('runEvents over graphql-ws and SSE', () => {
  it('streams every event in order to both transports: requested, dispatched, accepted, progress ×10, succeeded', async () => {
    const runId = await trigger('work', { job: 1 });
    const ws = wsClient(gw.url);
    const overWs = subscribeWs(ws, RUN_EVENTS, { runId }, pickEvent);
    const overSse = subscribeSse(gw.url, RUN_EVENTS, { runId }, pickEvent);
    const command = await commandFor(runId);
    await overWs.waitFor(2);
    await overSse.waitFor(2);
    await axon.event(command, 'accepted');
    for (let i = 1; i <= 10; i++) await axon.event(command, 'progress', { progress: i / 10, message: `step ${i}` });
    await axon.event(command, 'succeeded', { output: { answer: 42 } });
    await Promise.all([overWs.done, overSse.done]);
    for (const stream of [overWs, overSse]) {
      expect(stream.errors).toEqual([]);
      expect(stream.items.map((e) => e.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
      expect(stream.items.map((e) => e.type.replace('aionix.openact.action.', ''))).toEqual([
        'requested', 'dispatched', 'accepted', ...Array(10).fill('progress'), 'succeeded',
      ]);
      expect(stream.items.at(-1)).toMatchObject({ state: 'succeeded', data: { status: 'succeeded', output: { answer: 42 } } });
      expect(stream.items[5]!.data).toMatchObject({ progress: 0.3, message: 'step 3' });
    }
    expect(await runState(runId)).toMatchObject({ state: 'succeeded', output: { answer: 42 } });
    await ws.dispose();
  });

  it('a subscriber that reconnects with after = its last seq misses nothing and sees nothing twice', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    const ws = wsClient(gw.url);
    const first = subscribeWs(ws, RUN_EVENTS, { runId }, pickEvent);
    await axon.event(command, 'accepted');
    for (let i = 1; i <= 3; i++) await axon.event(command, 'progress', { progress: i / 10 });
    await first.waitFor(5);
    first.stop();
    await ws.dispose();
    const lastSeq = first.items.slice(0, 5).at(-1)!.seq;
    expect(lastSeq).toBe(5);
    // Events keep coming while nobody listens, and while the new subscription replays.
    const sending = (async () => {
      for (let i = 4; i <= 30; i++) await axon.event(command, 'progress', { progress: i / 100 });
      await axon.event(command, 'succeeded', { output: 'done' });
    })();
    await new Promise((r) => setTimeout(r, 30));
    const ws2 = wsClient(gw.url);
    const second = subscribeWs(ws2, RUN_EVENTS, { runId, after: lastSeq }, pickEvent);
    await sending;
    await second.done;
    const seqs = second.items.map((e) => e.seq);
    expect(seqs[0]).toBe(6);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 6));
    expect(second.items.at(-1)!.state).toBe('succeeded');
    await ws2.dispose();
  });

  it('replays a finished run and completes', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    await axon.event(command, 'accepted');
    await axon.event(command, 'failed', { error: { message: 'disk full' } });
    await eventually(async () => (await runState(runId)).state === 'failed');
    const replay = subscribeSse(gw.url, RUN_EVENTS, { runId }, pickEvent);
    await replay.done;
    expect(replay.items.map((e) => e.state)).toEqual(['requested', 'dispatched', 'accepted', 'failed']);
    expect(await runState(runId)).toMatchObject({ state: 'failed', error: { message: 'disk full' } });
  });

  it('binds variables whose names differ from the arguments (runEvents(runId: $id))', async () => {
    const runId = await trigger();
    await commandFor(runId);
    const stream = subscribeSse(gw.url, `subscription S($id: ID!, $from: Int) { runEvents(runId: $id, after: $from) { seq } }`, { id: runId, from: 1 }, pickEvent);
    await stream.waitFor(1);
    stream.stop();
    expect(stream.errors).toEqual([]);
    expect(stream.items[0]!.seq).toBe(2);
  });

  it('answers an unknown run with not_found', async () => {
    const replay = subscribeSse(gw.url, RUN_EVENTS, { runId: 'no-such-run' }, pickEvent);
    await replay.done;
    expect(JSON.stringify(replay.errors)).toContain('not_found');
  });
});

describe('event ingest', () => {
  it('stores a duplicated event once, and a late event after the end without moving the run', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    const id = randomUUID();
    await axon.event(command, 'accepted', {}, id);
    await axon.event(command, 'accepted', {}, id);
    await axon.event(command, 'succeeded', { output: 1 });
    await axon.event(command, 'failed', { error: 'late' });
    await eventually(async () => {
      const r = await gw.gql<{ run: { events: Ev[] } }>(`query { run(id: "${runId}") { events { seq type state reason } } }`);
      return r.data!.run.events.length === 5 ? r.data!.run.events : undefined;
    });
    const r = await gw.gql<{ run: { state: string; events: Ev[] } }>(`query { run(id: "${runId}") { state events { seq type state reason } } }`);
    expect(r.data!.run.state).toBe('succeeded');
    expect(r.data!.run.events.map((e) => [e.seq, e.type.split('.').pop(), e.state])).toEqual([
      [1, 'requested', 'requested'],
      [2, 'dispatched', 'dispatched'],
      [3, 'accepted', 'accepted'],
      [4, 'succeeded', 'succeeded'],
      [5, 'failed', 'succeeded'],
    ]);
    expect(r.data!.run.events[4]!.reason).toContain('late');
  });

  it('accepts events over HTTP, idempotently', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    const envelope = {
      specversion: '1.0',
      id: randomUUID(),
      source: `trn:synapse:default:service/${serviceId}`,
      type: 'aionix.openact.action.accepted',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: { status: 'accepted' },
      aionixSchemaVersion: '1.1.0',
      tenant: 'default',
      traceId: command.traceId,
      resourceTrn: command.target,
      runId,
      correlationId: command.id,
    };
    const first = await gw.rest('POST', '/api/v1/events', envelope);
    expect(first).toEqual({ status: 201, body: { ok: true, duplicate: false, seq: 3, state: 'accepted' } });
    const again = await gw.rest('POST', '/api/v1/events', envelope);
    expect(again).toEqual({ status: 200, body: { ok: true, duplicate: true } });
  });

  it.each([
    { name: 'an unknown run', patch: { runId: 'nope' }, status: 404, error: 'unknown_run' },
    { name: 'another service\'s run', patch: { source: 'trn:synapse:default:service/someone-else' }, status: 403, error: 'service_mismatch' },
    { name: 'a gateway-only type', patch: { type: 'aionix.openact.action.dispatched' }, status: 400, error: 'invalid_event' },
    { name: 'a wrong specversion', patch: { specversion: '0.3' }, status: 400, error: 'invalid_event' },
    { name: 'data over 64 KiB', patch: { data: { status: 'output', chunk: 'x'.repeat(70_000) } }, status: 413, error: 'too_large' },
  ])('rejects an event for $name over HTTP and changes nothing', async ({ patch, status, error }) => {
    const runId = await trigger();
    const command = await commandFor(runId);
    await eventually(async () => (await runState(runId)).state === 'dispatched');
    const envelope = {
      specversion: '1.0', id: randomUUID(), source: `trn:synapse:default:service/${serviceId}`, type: 'aionix.openact.action.accepted',
      time: new Date().toISOString(), datacontenttype: 'application/json', data: { status: 'accepted' }, aionixSchemaVersion: '1.1.0',
      tenant: 'default', traceId: command.traceId, resourceTrn: command.target, runId, correlationId: command.id, ...patch,
    };
    const res = await gw.rest('POST', '/api/v1/events', envelope);
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(error);
    expect((await runState(runId)).state).toBe('dispatched');
  });

  it('rejects over MQTT an event whose source is another service, and counts it', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    const metric = async () => Number(/synapse_events_rejected_total\{reason="service_mismatch"\} (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1] ?? 0);
    const before = await metric();
    const forged = { ...(await axon.event(command, 'accepted', {}, randomUUID())), id: randomUUID(), source: 'trn:synapse:default:service/intruder' };
    await axon.client.publishAsync(`${gw.prefix}/event/${serviceId}`, JSON.stringify(forged), { qos: 1 });
    await eventually(async () => (await metric()) > before, 5_000, 'rejection counted');
  });

  it('caps a run\'s stored output with one marker event', async () => {
    const runId = await trigger();
    const command = await commandFor(runId);
    const chunk = 'y'.repeat(60 * 1024);
    const count = Math.ceil((8 * 1024 * 1024) / (60 * 1024)) + 5;
    await Promise.all(Array.from({ length: count }, (_, i) => axon.event(command, 'output', { chunk, n: i })));
    await axon.event(command, 'succeeded', { output: 'ok' });
    await eventually(async () => (await runState(runId)).state === 'succeeded', 20_000);
    const r = await gw.gql<{ run: { events: Ev[] } }>(`query { run(id: "${runId}") { events(first: 500) { seq type data } } }`);
    const outputs = r.data!.run.events.filter((e) => e.type.endsWith('.output'));
    const markers = outputs.filter((e) => e.data?.truncated === true);
    expect(markers).toHaveLength(1);
    const storedBytes = outputs.filter((e) => !e.data?.truncated).reduce((n, e) => n + String(e.data?.chunk ?? '').length, 0);
    expect(storedBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(outputs.length).toBeLessThan(count + 1);
  });
});

describe('runUpdated and serviceUpdated', () => {
  it('streams state changes of a service\'s runs and service changes', async () => {
    const ws = wsClient(gw.url);
    const updates = subscribeWs(ws, `subscription U($s: String) { runUpdated(serviceId: $s) { id state } }`, { s: serviceId }, (d) => d.runUpdated as { id: string; state: string });
    const services = subscribeWs(ws, `subscription { serviceUpdated { id status } }`, {}, (d) => d.serviceUpdated as { id: string; status: string });
    await new Promise((r) => setTimeout(r, 100));
    const runId = await trigger();
    const command = await commandFor(runId);
    await axon.event(command, 'accepted');
    await axon.event(command, 'succeeded');
    await eventually(() => updates.items.filter((u) => u.id === runId).map((u) => u.state).join() === 'requested,dispatched,accepted,succeeded', 10_000, 'all states');
    await axon.announce({ status: 'warning' });
    await eventually(() => services.items.some((s) => s.id === serviceId && s.status === 'warning'), 10_000, 'service warning');
    await axon.announce();
    await ws.dispose();
  });
});
