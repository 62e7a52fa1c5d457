// Command delivery that loses nothing: broker outages (the embedded broker and
// a private Mosquitto) and a gateway killed between commit and publish.
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/src/db/client.js';
import { outbox } from '../server/src/db/schema.js';
import { startTestAxon } from './helpers/axon.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { type PrivateMosquitto, startMosquitto } from './helpers/mosquitto.js';
import { freePort, spawnGateway } from './helpers/process.js';
import { eventually } from './helpers/wait.js';

let mosquitto: PrivateMosquitto;
beforeAll(async () => {
  mosquitto = await startMosquitto();
});
afterAll(async () => {
  await mosquitto?.close();
});

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { __typename ... on TriggerPayload { run { id state } } ... on Error { code message } } }`;

async function publishedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^synapse_outbox_published_total (\d+)/m.exec(text)?.[1] ?? 0);
}

async function waitOnline(gw: { gql: TestGateway['gql'] }, id: string) {
  await eventually(async () => (await gw.gql<{ service: { status: string } | null }>('query S($id: ID!) { service(id: $id) { status } }', { id })).data?.service?.status === 'online', 10_000, `${id} online`);
}

describe.each([
  { broker: 'the embedded broker', external: false },
  { broker: 'a private Mosquitto', external: true },
])('broker outage with $broker', ({ external }) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway(external ? { MQTT_URL: mosquitto.url } : { MQTT_URL: '', MQTT_PORT: '0' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('delivers all 100 commands triggered while the broker was down, each published once', async () => {
    const serviceId = `out-${randomUUID().slice(0, 8)}`;
    const axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, ttl: 300 });
    await waitOnline(gw, serviceId);
    const publishedBefore = await publishedCount(gw.url);

    if (external) await mosquitto.stop();
    else await gw.gateway.broker!.stop();

    const runs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'restart', input: { i } } })),
    );
    const runIds = new Set(runs.map((r) => r.data!.triggerAction.run.id));
    expect(runIds.size).toBe(100);
    await new Promise((r) => setTimeout(r, 300));
    expect(axon.commands).toHaveLength(0);
    expect((await gw.rest('GET', '/readyz')).body).toMatchObject({ status: 'not_ready', checks: { mqtt: 'disconnected' } });

    if (external) await mosquitto.start();
    else await gw.gateway.broker!.start();

    await axon.waitForCommands(100, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    const ids = new Set(axon.commands.map((c) => c.id));
    expect(ids.size).toBe(100);
    expect(new Set(axon.commands.map((c) => c.parameters.runId))).toEqual(runIds);
    expect((await publishedCount(gw.url)) - publishedBefore).toBe(100);
    await eventually(async () => {
      const res = await gw.gql<{ runs: { nodes: Array<{ state: string }> } }>(`query { runs(first: 200, serviceId: "${serviceId}") { nodes { state } } }`);
      return res.data!.runs.nodes.filter((n) => n.state === 'dispatched').length === 100;
    }, 10_000, 'all runs dispatched');
    await axon.close();
  }, 60_000);
});

describe.each([
  { broker: 'the embedded broker', external: false },
  { broker: 'a private Mosquitto', external: true },
])('gateway killed between commit and publish, with $broker', ({ external }) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase({ onDisk: true });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('delivers the command after a restart', async () => {
    const port = await freePort();
    const mqttPort = await freePort();
    const prefix = `synapse-test-${randomUUID().slice(0, 8)}/v1`;
    const env = {
      PORT: String(port),
      LOG_LEVEL: 'warn',
      MQTT_TOPIC_PREFIX: prefix,
      MQTT_CLIENT_ID: `gw-crash-${randomUUID().slice(0, 8)}`,
      ...(db.url ? { DATABASE_URL: db.url } : { SYNAPSE_DATA_DIR: db.dataDir }),
      ...(external ? { MQTT_URL: mosquitto.url } : { MQTT_PORT: String(mqttPort) }),
    };
    const brokerUrl = external ? mosquitto.url : `mqtt://127.0.0.1:${mqttPort}`;
    const gql = async <T>(query: string, variables?: Record<string, unknown>) =>
      (await (await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })).json()) as { data?: T };

    // 1. A gateway that commits runs but holds its outbox.
    const first = spawnGateway({ ...env, SYNAPSE_OUTBOX_PAUSED: 'true' });
    await first.waitFor(/GraphiQL:/);
    const serviceId = `crash-${randomUUID().slice(0, 8)}`;
    const axon = await startTestAxon({ url: brokerUrl, prefix, serviceId, ttl: 300 });
    await waitOnline({ gql: gql as TestGateway['gql'] }, serviceId);
    const res = await gql<{ triggerAction: { run: { id: string; state: string } } }>(TRIGGER, { input: { serviceId, actionId: 'restart' } });
    const runId = res.data!.triggerAction.run.id;
    expect(res.data!.triggerAction.run.state).toBe('requested');

    // 2. Killed before it published.
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 200));
    expect(axon.commands).toHaveLength(0);
    // As if the row had been handed to the dead gateway's relay after the commit: leased to
    // its client id for 60 s. The restarted gateway (same client id) must not wait that out.
    const handle = await openDatabase({ url: db.url, dataDir: db.dataDir, poolSize: 1 });
    const leased = await handle.db
      .update(outbox)
      .set({ claimedBy: env.MQTT_CLIENT_ID, claimedUntil: sql`now() + interval '60 seconds'` })
      .where(eq(outbox.runId, runId))
      .returning({ id: outbox.id });
    await handle.close();
    expect(leased).toHaveLength(1);

    // 3. Restarted: the committed command goes out.
    const second = spawnGateway(env);
    await second.waitFor(/GraphiQL:/);
    const [command] = await axon.waitForCommands(1, 15_000);
    expect(command!.parameters.runId).toBe(runId);
    await eventually(async () => (await gql<{ run: { state: string } }>(`query { run(id: "${runId}") { state } }`)).data?.run.state === 'dispatched', 10_000, 'dispatched');
    await new Promise((r) => setTimeout(r, 300));
    expect(axon.commands).toHaveLength(1);
    await axon.close();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);
});

describe('commands for an Axon that is not listening', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ MQTT_URL: '', MQTT_PORT: '0' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('wait in the outbox without holding up other services\' commands (embedded broker)', async () => {
    // A service that announced itself but does not subscribe to its commands.
    const silentId = `silent-${randomUUID().slice(0, 8)}`;
    const silent = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId: silentId, ttl: 300, clean: true });
    await silent.client.unsubscribeAsync(`${gw.prefix}/command/${silentId}`);
    await waitOnline(gw, silentId);
    const held = await Promise.all(Array.from({ length: 250 }, () => gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId: silentId, actionId: 'restart' } })));
    expect(held).toHaveLength(250);
    const busyId = `busy-${randomUUID().slice(0, 8)}`;
    const axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId: busyId, ttl: 300 });
    await waitOnline(gw, busyId);
    await gw.gql(TRIGGER, { input: { serviceId: busyId, actionId: 'restart' } });
    await axon.waitForCommands(1, 5_000);
    expect(silent.commands).toHaveLength(0);
    // Once the silent Axon listens, its commands go out.
    await silent.client.subscribeAsync(`${gw.prefix}/command/${silentId}`, { qos: 1 });
    await silent.waitForCommands(250, 20_000);
    await axon.close();
    await silent.close();
  }, 60_000);
});
