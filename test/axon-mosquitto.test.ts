// The Axon SDK against a private Mosquitto (the broker used in production):
// the basic flow, then a broker restart in the middle of a run. Events sent
// while the broker is down are buffered and arrive after the reconnection, and
// the Axon re-announces its service.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Axon, createAxon } from '../client/src/axon/index.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { type PrivateMosquitto, startMosquitto } from './helpers/mosquitto.js';
import { eventually } from './helpers/wait.js';

type Ev = { seq: number; type: string; data: Record<string, unknown> | null };
let mosquitto: PrivateMosquitto;
let gw: TestGateway;
let axon: Axon;
const serviceId = `mosq-${randomUUID().slice(0, 8)}`;
let release: () => void = () => {};
let reached: () => void = () => {};
const reachedPause = new Promise<void>((r) => (reached = r));

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;
const trigger = async (actionId: string, input: unknown = null) =>
  (await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId, input } })).data!.triggerAction.run.id;
const run = async (id: string) =>
  (await gw.gql<{ run: { state: string; output: unknown; events: Ev[] } }>(`query { run(id: "${id}") { state output events(first: 500) { seq type data } } }`)).data!.run;
const status = async () => (await gw.gql<{ service: { status: string } | null }>(`query { service(id: "${serviceId}") { status } }`)).data?.service?.status;

beforeAll(async () => {
  mosquitto = await startMosquitto();
  gw = await startTestGateway({ MQTT_URL: mosquitto.url });
  axon = createAxon({
    url: mosquitto.url,
    prefix: gw.prefix,
    serviceId,
    ttl: 60,
    // Slower than the gateway's own reconnection: this Mosquitto does not restore the gateway's
    // session after a restart, so events that arrive before the gateway re-subscribes are not delivered to it.
    reconnect: { initialMs: 4_000, maxMs: 4_000 },
    logger: { warn: () => {}, error: () => {} },
    actions: {
      echo: (ctx) => ({ echoed: ctx.input }),
      pause: async (ctx) => {
        ctx.output('before\n');
        await new Promise<void>((r) => {
          release = r;
          reached();
        });
        ctx.output('during\n');
        ctx.progress(1, 'done while the broker was down');
        return 'after-outage';
      },
    },
  });
  await axon.start();
  await eventually(async () => (await status()) === 'online', 10_000, 'online');
});
afterAll(async () => {
  release();
  await axon?.stop();
  await gw?.close();
  await mosquitto?.close();
});

describe('an Axon on Mosquitto', () => {
  it('runs the basic flow', async () => {
    const id = await trigger('echo', { hello: 'mosquitto' });
    const r = await eventually(async () => {
      const current = await run(id);
      return current.state === 'succeeded' ? current : undefined;
    }, 10_000, 'succeeded');
    expect(r.output).toEqual({ echoed: { hello: 'mosquitto' } });
    const types = r.events.map((e) => e.type.split('.').pop());
    // `dispatched` is recorded after the broker's PUBACK: the Axon may have answered (even finished) first.
    expect(types.filter((t) => t !== 'dispatched')).toEqual(['requested', 'accepted', 'started', 'succeeded']);
  });

  it('buffers events while the broker is down, reconnects with backoff and re-announces', async () => {
    const id = await trigger('pause');
    await reachedPause;
    await eventually(async () => (await run(id)).events.some((e) => e.data?.chunk === 'before\n'), 10_000, 'first output');
    await mosquitto.stop();
    await eventually(() => !axon.connected, 5_000, 'the Axon to notice');
    release(); // the handler finishes while the broker is down: output, progress and the outcome wait
    await new Promise((r) => setTimeout(r, 300));
    await mosquitto.start();
    const gatewayBack = () => gw.logs.filter((l) => l.msg === 'mqtt connected').length >= 2;
    await eventually(gatewayBack, 10_000, 'the gateway to reconnect');
    expect(axon.connected).toBe(false); // still backing off
    await eventually(() => axon.connected, 10_000, 'the Axon to reconnect');
    const r = await eventually(async () => {
      const current = await run(id);
      return current.state === 'succeeded' ? current : undefined;
    }, 20_000, 'the buffered outcome');
    expect(r.output).toBe('after-outage');
    const types = r.events.map((e) => e.type.split('.').pop());
    expect(types.slice(-3)).toEqual(['output', 'progress', 'succeeded']);
    expect(r.events.filter((e) => e.data?.chunk === 'during\n')).toHaveLength(1);
    expect(await status()).toBe('online');
    // Still works after the outage.
    const again = await trigger('echo', 2);
    await eventually(async () => (await run(again)).state === 'succeeded', 10_000, 'a run after the outage');
  });
});
