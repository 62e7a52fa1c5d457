// The embedded broker's authentication and per-Axon ACL: the shared rows
// (helpers/mqtt-acl.ts) with the gateway secured by a bootstrap admin key, then
// open mode: anonymous loopback Axons work until a key is created.
import { randomBytes, randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { createCredential, describeMqttAcl, gqlAs, sleep, tryConnect } from './helpers/mqtt-acl.js';
import { eventually } from './helpers/wait.js';

// The embedded broker only: with MQTT_URL set the gateway would not run one.
const embedded = { MQTT_URL: '', MQTT_PORT: '0' };

describeMqttAcl('embedded broker, secured', async () => {
  const key = randomBytes(32).toString('base64url');
  const gw = await startTestGateway({ ...embedded, SYNAPSE_BOOTSTRAP_ADMIN_KEY: key });
  return {
    kind: 'embedded',
    gw,
    key,
    brokerUrl: gw.gateway.brokerUrl,
    register: async () => {},
    unregister: async () => {},
    close: () => gw.close(),
  };
});

describe('embedded broker, open mode', () => {
  let gw: TestGateway;
  let axon: TestAxon;
  const serviceId = `open-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    gw = await startTestGateway(embedded);
    axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, respond: (c, a) => void a.event(c, 'succeeded') });
  });
  afterAll(async () => {
    await axon?.close().catch(() => {});
    await gw?.close();
  });

  it('accepts an anonymous loopback Axon with any client id (the MVP Axon) and runs its actions', async () => {
    const other = await mqtt.connectAsync(gw.gateway.brokerUrl, { reconnectPeriod: 0, clean: true });
    const id = `mvp-${randomUUID().slice(0, 8)}`;
    await other.publishAsync(`${gw.prefix}/discovery/${id}`, JSON.stringify(snapshot({ url: '', prefix: '', serviceId: id, shape: 'mvp' })), { qos: 1 });
    await eventually(async () => (await gw.gql<{ service: { status: string } | null }>(`query { service(id: "${id}") { status } }`)).data?.service?.status === 'online', 5_000, 'catalogued');
    await other.endAsync();
    const r = await gw.gql<{ triggerAction: { run: { id: string } } }>(`mutation { triggerAction(input: { serviceId: "${serviceId}", actionId: "restart" }) { ... on TriggerPayload { run { id } } } }`);
    const runId = r.data!.triggerAction.run.id;
    await eventually(async () => (await gw.gql<{ run: { state: string } }>(`query { run(id: "${runId}") { state } }`)).data?.run.state === 'succeeded', 10_000, 'succeeded');
  });

  it("keeps the gateway's own topics from anonymous clients", async () => {
    const sniffer = await mqtt.connectAsync(gw.gateway.brokerUrl, { reconnectPeriod: 0, clean: true });
    const got: string[] = [];
    sniffer.on('message', (topic) => got.push(topic));
    await expect(sniffer.subscribeAsync(`${gw.prefix}/gateway/#`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await sniffer.subscribeAsync('#', { qos: 1 });
    await gw.gql(`mutation { triggerAction(input: { serviceId: "${serviceId}", actionId: "restart" }) { __typename } }`);
    await sleep(500);
    expect(got.some((t) => t.startsWith(`${gw.prefix}/command/`))).toBe(true); // '#' is granted, minus the gateway's topics
    expect(got.filter((t) => t.startsWith(`${gw.prefix}/gateway/`))).toEqual([]);
    await sniffer.endAsync();
  });

  it('checks a credential an Axon presents even while open', async () => {
    const created = await createCredential(gw, null, `cred-${randomUUID().slice(0, 8)}`);
    const ok = await tryConnect(gw.gateway.brokerUrl, { clientId: created.serviceId, username: created.serviceId, password: created.secret });
    expect(ok).toHaveProperty('client');
    await (ok as { client: mqtt.MqttClient }).client.endAsync();
    const wrong = await tryConnect(gw.gateway.brokerUrl, { clientId: created.serviceId, username: created.serviceId, password: 'wrong' });
    expect(wrong).toEqual({ refused: 4 });
  });

  it('requires credentials from new connections once a key exists, and drops anonymous ones', async () => {
    const closed = new Promise<void>((resolve) => axon.client.once('close', () => resolve()));
    axon.client.options.reconnectPeriod = 0;
    const r = await gqlAs<{ createApiKey: { __typename: string } }>(gw, null, `mutation { createApiKey(name: "admin", scopes: ["all"]) { __typename } }`);
    expect(r.data?.createApiKey.__typename).toBeDefined();
    await Promise.race([closed, sleep(6_000).then(() => Promise.reject(new Error('the anonymous Axon was not dropped')))]);
    expect(await tryConnect(gw.gateway.brokerUrl, { clientId: `anon-${randomUUID().slice(0, 8)}` })).toEqual({ refused: 5 });
  });
});
