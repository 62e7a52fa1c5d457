// Two gateways side by side on one database and one broker: an event ingested
// by either reaches subscribers of both and is stored once, and the outbox
// relays share the work without publishing any command twice. With Postgres
// the gateways are separate processes; with the embedded database (one owner
// per directory) they are two gateways in this process sharing its handle.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { usingPostgres } from './helpers/database.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { type PrivateMosquitto, startMosquitto } from './helpers/mosquitto.js';
import { freePort, type GatewayProcess, spawnGateway } from './helpers/process.js';
import { subscribeWs, wsClient } from './helpers/subscribe.js';
import { eventually } from './helpers/wait.js';

interface Side {
  url: string;
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<{ data?: T }>;
}

let mosquitto: PrivateMosquitto;
let a: Side;
let b: Side;
let axon: TestAxon;
const prefix = `synapse-test-${randomUUID().slice(0, 8)}/v1`;
const serviceId = `scale-${randomUUID().slice(0, 8)}`;
const cleanups: Array<() => Promise<unknown>> = [];

const side = (url: string): Side => ({
  url,
  async gql(query, variables) {
    return (await (await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json()) as { data?: never };
  },
});

beforeAll(async () => {
  mosquitto = await startMosquitto();
  const env = { MQTT_URL: mosquitto.url, MQTT_TOPIC_PREFIX: prefix };
  const first: TestGateway = await startTestGateway(env);
  cleanups.push(() => first.close());
  a = side(first.url);
  if (usingPostgres()) {
    // A second process on the same database.
    const port = await freePort();
    const second: GatewayProcess = spawnGateway({ ...env, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: first.database.url! });
    await second.waitFor(/GraphiQL:/);
    cleanups.unshift(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    b = side(`http://127.0.0.1:${port}`);
  } else {
    const second = await startTestGateway(env, { sameDatabaseAs: first });
    cleanups.unshift(() => second.close());
    b = side(second.url);
  }
  axon = await startTestAxon({ url: mosquitto.url, prefix, serviceId, ttl: 300 });
  await eventually(async () => (await b.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
}, 60_000);

afterAll(async () => {
  await axon?.close();
  for (const cleanup of cleanups) await cleanup();
  await mosquitto?.close();
});

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } } }`;

describe('two gateways', () => {
  it('deliver events ingested by either to subscribers of both, each stored once', async () => {
    const runId = (await a.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'restart' } })).data!.triggerAction.run.id;
    const clients = [wsClient(a.url), wsClient(b.url)];
    const streams = clients.map((c) => subscribeWs(c, `subscription S($id: ID!) { runEvents(runId: $id) { seq type } }`, { id: runId }, (d) => d.runEvents as { seq: number; type: string }));
    const [command] = await axon.waitForCommands(1);
    await Promise.all(streams.map((s) => s.waitFor(2)));
    await axon.event(command!, 'accepted');
    for (let i = 0; i < 20; i++) await axon.event(command!, 'progress', { progress: i / 20 });
    await axon.event(command!, 'succeeded');
    await Promise.all(streams.map((s) => s.done));
    for (const stream of streams) expect(stream.items.map((e) => e.seq)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    for (const gw of [a, b]) {
      const run = await gw.gql<{ run: { state: string; events: Array<{ id: string }> } }>(`query { run(id: "${runId}") { state events(first: 500) { id } } }`);
      expect(run.data!.run.state).toBe('succeeded');
      expect(run.data!.run.events).toHaveLength(24);
      expect(new Set(run.data!.run.events.map((e) => e.id)).size).toBe(24);
    }
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('share the outbox: 100 runs triggered on both, each command published once', async () => {
    const before = axon.commands.length;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { i } } })),
    );
    const runIds = new Set(results.map((r) => r.data!.triggerAction.run.id));
    await axon.waitForCommands(before + 100, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const received = axon.commands.slice(before);
    expect(received).toHaveLength(100);
    expect(new Set(received.map((c) => c.parameters.runId))).toEqual(runIds);
  });
});
