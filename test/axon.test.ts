// The Axon SDK end to end: a real gateway (embedded broker), an Axon made with
// createAxon, runs triggered through GraphQL, events read back from the run log.
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActionContext, type Axon, createAxon } from '../client/src/axon/index.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

const HEARTBEAT_S = 3;
const quiet = { warn: () => {}, error: () => {} };
let gw: TestGateway;
let axon: Axon;
let sniffer: MqttClient;
const serviceId = `sdk-${randomUUID().slice(0, 8)}`;
const counts = new Map<string, number>();
const sniffed: Array<{ topic: string; payload: Buffer }> = [];

type Ev = { seq: number; type: string; state: string; reason: string | null; source: string; data: Record<string, unknown> | null; envelope: Record<string, unknown> };
type Run = { id: string; state: string; reason: string | null; output: unknown; error: unknown; events: Ev[] };
const RUN = `query R($id: ID!) { run(id: $id) { id state reason output error events(first: 500) { seq type state reason source data envelope } } }`;
const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id state } } ... on Error { code message } } }`;
const TERMINAL = ['succeeded', 'failed', 'rejected', 'cancelled', 'timed_out', 'lost', 'expired'];
const short = (e: Ev) => e.type.replace('aionix.openact.action.', '');

const run = async (id: string) => (await gw.gql<{ run: Run }>(RUN, { id })).data!.run;
async function trigger(actionId: string, extra: Record<string, unknown> = {}, sid = serviceId): Promise<string> {
  const res = await gw.gql<{ triggerAction: { run?: { id: string }; code?: string; message?: string } }>(TRIGGER, { input: { serviceId: sid, actionId, ...extra } });
  const id = res.data?.triggerAction.run?.id;
  if (!id) throw new Error(`trigger failed: ${JSON.stringify(res)}`);
  return id;
}
const ended = (id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    // Poll the state alone (an event log can be megabytes), then read the whole run once.
    const state = (await gw.gql<{ run: { state: string } }>(`query { run(id: "${id}") { state } }`)).data!.run.state;
    return TERMINAL.includes(state) ? run(id) : undefined;
  }, timeoutMs, `run ${id} to end`);
const serviceStatus = async (sid: string) => (await gw.gql<{ service: { status: string } | null }>(`query { service(id: "${sid}") { status } }`)).data?.service?.status;

const waitForAbort = (ctx: ActionContext) =>
  new Promise((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });

beforeAll(async () => {
  gw = await startTestGateway({ SYNAPSE_HEARTBEAT_TIMEOUT_S: String(HEARTBEAT_S) });
  sniffer = await mqtt.connectAsync(gw.gateway.brokerUrl, { clientId: `sniffer-${randomUUID().slice(0, 8)}`, clean: true });
  sniffer.on('message', (topic, payload) => sniffed.push({ topic, payload }));
  await sniffer.subscribeAsync(`${gw.prefix}/command/${serviceId}`, { qos: 1 });
  axon = createAxon({
    url: gw.gateway.brokerUrl,
    prefix: gw.prefix,
    serviceId,
    name: 'SDK test',
    ttl: 60,
    logger: quiet,
    actions: {
      work: {
        label: 'Do the work',
        style: 'primary',
        async handler(ctx) {
          ctx.progress(0.5, 'half way');
          ctx.output('hello\n');
          ctx.output('oops\n', 'stderr');
          return { got: ctx.input, runId: ctx.runId };
        },
      },
      explode: () => {
        throw new Error('disk full');
      },
      wait: async (ctx) => waitForAbort(ctx),
      quietly: async () => {
        await new Promise((r) => setTimeout(r, 2_500));
        return 'done';
      },
      count: (ctx) => {
        counts.set(ctx.runId, (counts.get(ctx.runId) ?? 0) + 1);
        return counts.get(ctx.runId);
      },
      big: () => 'z'.repeat(200_000),
    },
  });
  await axon.start();
  await eventually(async () => (await serviceStatus(serviceId)) === 'online', 10_000, 'service online');
});
afterAll(async () => {
  await axon?.stop();
  await sniffer?.endAsync();
  await gw?.close();
});

describe('createAxon against a real gateway', () => {
  it('announces its actions and runs a handler: accepted, started, progress, output, succeeded', async () => {
    const service = await gw.gql<{ service: { name: string; actions: Array<{ id: string; label: string }> } }>(`query { service(id: "${serviceId}") { name actions { id label } } }`);
    expect(service.data!.service.name).toBe('SDK test');
    expect(service.data!.service.actions.map((a) => a.id).sort()).toEqual(['big', 'count', 'explode', 'quietly', 'wait', 'work']);

    const id = await trigger('work', { input: { n: 1 } });
    const r = await ended(id);
    expect(r.state).toBe('succeeded');
    expect(r.output).toEqual({ got: { n: 1 }, runId: id });
    // The Axon may answer before the gateway records `dispatched` (after the broker's PUBACK).
    expect(r.events.map(short).filter((t) => t !== 'dispatched')).toEqual(['requested', 'accepted', 'started', 'progress', 'output', 'output', 'succeeded']);
    const [progress, out, err] = r.events.filter((e) => short(e) !== 'dispatched').slice(3, 6);
    expect(progress!.data).toMatchObject({ progress: 0.5, message: 'half way' });
    expect(out!.data).toMatchObject({ chunk: 'hello\n', stream: 'stdout' });
    expect(err!.data).toMatchObject({ chunk: 'oops\n', stream: 'stderr' });
    const command = JSON.parse(sniffed.find((m) => JSON.parse(m.payload.toString()).parameters.runId === id)!.payload.toString());
    expect(r.events.find((e) => short(e) === 'succeeded')!.envelope).toMatchObject({
      source: `trn:synapse:default:service/${serviceId}`,
      resourceTrn: command.target,
      correlationId: command.id,
      runId: id,
      traceId: command.traceId,
      tenant: 'default',
    });
  });

  it('reports a thrown error as failed, with the message as reason', async () => {
    const r = await ended(await trigger('explode'));
    expect(r).toMatchObject({ state: 'failed', reason: 'disk full', error: { message: 'disk full' } });
  });

  it('fits a result larger than an event may carry', async () => {
    const r = await ended(await trigger('big'));
    expect(r.state).toBe('succeeded');
    expect(r.output).toMatchObject({ truncated: true, bytes: 200_000 });
  });

  it('rejects an action it has no handler for, and the gateway warns', async () => {
    // Someone announces a "ghost" action for this service; the Axon itself has no handler.
    await sniffer.publishAsync(
      `${gw.prefix}/discovery/${serviceId}`,
      JSON.stringify({ api_version: 'v1', id: serviceId, status: 'online', ttl: 60, components: { g: { id: 'g', type: 'action_group', items: [{ action_id: 'ghost', label: 'Ghost' }] } } }),
      { qos: 1 },
    );
    await eventually(async () => (await gw.gql<{ service: { actions: Array<{ id: string }> } }>(`query { service(id: "${serviceId}") { actions { id } } }`)).data!.service.actions.some((a) => a.id === 'ghost'));
    const id = await trigger('ghost');
    const r = await ended(id);
    expect(r.state).toBe('rejected');
    expect(r.reason).toBe('unknown action ghost');
    expect(r.error).toMatchObject({ code: 'unknown_action' });
    await eventually(() => gw.logs.find((l) => l.msg === 'run rejected by the Axon' && l.runId === id), 5_000, 'warning logged');
    await axon.announce(); // its own catalogue again
    await eventually(async () => !(await gw.gql<{ service: { actions: Array<{ id: string }> } }>(`query { service(id: "${serviceId}") { actions { id } } }`)).data!.service.actions.some((a) => a.id === 'ghost'));
  });

  it('aborts the handler\'s signal on cancelRun and reports cancelled', async () => {
    const id = await trigger('wait');
    await eventually(async () => (await run(id)).state === 'running');
    const cancel = await gw.gql<{ cancelRun: { __typename: string } }>(`mutation { cancelRun(id: "${id}") { __typename } }`);
    expect(cancel.data!.cancelRun.__typename).toBe('CancelRunSuccess');
    const r = await ended(id);
    expect(r).toMatchObject({ state: 'cancelled', reason: 'cancelled on request' });
    expect(r.events.find((e) => short(e) === 'cancelled')!.source).toBe(`trn:synapse:default:service/${serviceId}`);
  });

  it('sends heartbeats while a handler runs longer than heartbeatTimeout/3', async () => {
    const r = await ended(await trigger('quietly'));
    expect(r.state).toBe('succeeded');
    expect(r.events.filter((e) => short(e) === 'heartbeat').length).toBeGreaterThanOrEqual(1);
  });

  it('runs each command once when 100 commands are each delivered three times', async () => {
    sniffed.length = 0;
    const before = axon.stats.duplicates;
    const ids = await Promise.all(Array.from({ length: 100 }, () => trigger('count')));
    await eventually(async () => {
      const res = await gw.gql<{ runs: { nodes: Array<{ id: string }> } }>(`query { runs(first: 200, serviceId: "${serviceId}", status: succeeded) { nodes { id } } }`);
      const done = new Set(res.data!.runs.nodes.map((n) => n.id));
      return ids.every((id) => done.has(id));
    }, 20_000, '100 runs to succeed');
    const commands = sniffed.filter((m) => ids.includes(JSON.parse(m.payload.toString()).parameters.runId));
    expect(commands).toHaveLength(100);
    // Redeliver each command twice, as a broker does after a lost PUBACK.
    for (let i = 0; i < 2; i++) await Promise.all(commands.map((m) => sniffer.publishAsync(m.topic, m.payload, { qos: 1 })));
    await eventually(() => axon.stats.duplicates - before === 200, 10_000, '200 duplicates seen');
    await new Promise((r) => setTimeout(r, 300));
    expect(ids.map((id) => counts.get(id))).toEqual(ids.map(() => 1));
    const outcomes = await Promise.all(ids.slice(0, 10).map(async (id) => (await run(id)).events.filter((e) => short(e) === 'succeeded').length));
    expect(outcomes).toEqual(Array(10).fill(1));
  });
});

describe('lifecycle', () => {
  it('drops a command whose deadline passed while it was away (expired), from its persistent session', async () => {
    const sid = `exp-${randomUUID().slice(0, 8)}`;
    const options = { url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId: sid, ttl: 60, logger: quiet, actions: { work: () => 'ran' } };
    const first = createAxon(options);
    await first.start();
    await first.stop(); // disconnects; the broker keeps its session and subscription
    await eventually(async () => (await serviceStatus(sid)) === 'offline', 10_000, 'offline');
    // The service is announced online again (as by a sibling process), and a run is triggered while the Axon is away.
    await sniffer.publishAsync(`${gw.prefix}/discovery/${sid}`, JSON.stringify({ api_version: 'v1', id: sid, status: 'online', ttl: 60, components: { a: { id: 'a', type: 'action_group', items: [{ action_id: 'work', label: 'Work' }] } } }), { qos: 1 });
    await eventually(async () => (await serviceStatus(sid)) === 'online');
    const id = await trigger('work', { deadline: new Date(Date.now() + 300).toISOString() }, sid);
    await new Promise((r) => setTimeout(r, 600));
    const second = createAxon(options);
    await second.start(); // the queued command arrives, already expired
    const r = await eventually(async () => {
      const current = await run(id);
      return current.events.some((e) => short(e) === 'expired' && e.source === `trn:synapse:default:service/${sid}`) ? current : undefined;
    }, 5_000, 'expired event from the Axon');
    expect(r.state).toBe('expired');
    expect(r.events.some((e) => short(e) === 'started')).toBe(false);
    await second.stop();
  });

  it('announces offline on stop, within 3 s', async () => {
    const sid = `stop-${randomUUID().slice(0, 8)}`;
    const a = createAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId: sid, ttl: 60, logger: quiet, actions: { forever: (ctx) => waitForAbort(ctx) } });
    await a.start();
    await eventually(async () => (await serviceStatus(sid)) === 'online');
    const id = await trigger('forever', {}, sid);
    await eventually(async () => (await run(id)).state === 'running');
    const t0 = Date.now();
    await a.stop();
    expect(Date.now() - t0).toBeLessThan(3_000);
    await eventually(async () => (await serviceStatus(sid)) === 'offline', 5_000, 'offline');
    expect(await ended(id)).toMatchObject({ state: 'failed', reason: 'axon stopping' });
  });

  it('refuses bad options early', () => {
    expect(() => createAxon({ url: 'mqtt://x', serviceId: 'bad id' })).toThrow(/serviceId/);
    expect(() => createAxon({ url: 'mqtt://x', serviceId: 'ok', ttl: 0 })).toThrow(/ttl/);
    expect(() => createAxon({ url: 'mqtt://x', serviceId: 'ok', actions: { 'no/slash': () => 1 } })).toThrow(/action id/);
  });
});
