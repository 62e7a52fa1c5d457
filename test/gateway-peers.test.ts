// Gateways on one external broker announce themselves (retained presence on
// `{prefix}/gateway/peers/{clientId}`), and the fan-out sends a change only
// while another gateway is present: alone, a gateway publishes no fan-out
// message; with a peer, the peer's subscribers see its changes; once the peer
// stops (and clears its presence), the messages stop again.
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { type PrivateMosquitto, startMosquitto } from './helpers/mosquitto.js';
import { subscribeWs, wsClient } from './helpers/subscribe.js';
import { eventually } from './helpers/wait.js';

const prefix = `synapse-test-${randomUUID().slice(0, 8)}/v1`;
const serviceId = `peers-${randomUUID().slice(0, 8)}`;
const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } } }`;

let mosquitto: PrivateMosquitto;
let first: TestGateway;
let axon: TestAxon;
let observer: mqtt.MqttClient;
/** What the observer heard below `{prefix}/gateway/`, in order. */
const heard: Array<{ topic: string; payload: string; retain: boolean }> = [];
const fanoutMessages = () => heard.filter((m) => m.topic === `${prefix}/gateway/fanout`).length;
const presences = (clientId: string) => heard.filter((m) => m.topic === `${prefix}/gateway/peers/${clientId}`);

beforeAll(async () => {
  mosquitto = await startMosquitto();
  first = await startTestGateway({ MQTT_URL: mosquitto.url, MQTT_TOPIC_PREFIX: prefix });
  observer = await mqtt.connectAsync(mosquitto.url, { clientId: `observer-${randomUUID().slice(0, 8)}`, clean: true });
  observer.on('message', (topic, payload, packet) => heard.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await observer.subscribeAsync(`${prefix}/gateway/#`, { qos: 1 });
  axon = await startTestAxon({ url: mosquitto.url, prefix, serviceId, ttl: 300 });
  await eventually(async () => (await first.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
}, 60_000);

afterAll(async () => {
  await axon?.close();
  await observer?.endAsync();
  await first?.close();
  await mosquitto?.close();
});

/** Triggers a run on `gateway`, has the Axon finish it, and waits until the gateway reads it succeeded. */
async function finishedRun(gateway: TestGateway): Promise<string> {
  const before = axon.commands.length;
  const runId = (await gateway.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'restart' } })).data!.triggerAction.run.id;
  const [command] = (await axon.waitForCommands(before + 1)).slice(before);
  await axon.event(command!, 'accepted');
  await axon.event(command!, 'succeeded');
  await eventually(async () => (await gateway.gql<{ run: { state: string } }>(`query { run(id: "${runId}") { state } }`)).data?.run.state === 'succeeded', 10_000, 'run succeeded');
  return runId;
}

describe('gateway presence and the fan-out', () => {
  it('a gateway alone announces itself and sends no fan-out message', async () => {
    const clientId = first.gateway.clientId;
    await eventually(() => presences(clientId).length > 0, 5_000, 'presence');
    expect(JSON.parse(presences(clientId)[0]!.payload)).toMatchObject({ clientId });
    await finishedRun(first);
    // Give a stray burst time to arrive: none should.
    await new Promise((r) => setTimeout(r, 300));
    expect(fanoutMessages()).toBe(0);
  });

  it('with a second gateway, its subscribers see the changes committed by the first, until it stops', async () => {
    const second = await startTestGateway({ MQTT_URL: mosquitto.url, MQTT_TOPIC_PREFIX: prefix }, { sameDatabaseAs: first });
    const secondId = second.gateway.clientId;
    try {
      await eventually(() => presences(secondId).some((m) => m.payload.length > 0), 5_000, 'second presence');
      const client = wsClient(second.url);
      const updates = subscribeWs(client, `subscription S($s: String!) { runUpdated(serviceId: $s) { id state } }`, { s: serviceId }, (d) => d.runUpdated as { id: string; state: string });
      // The subscription is live once a change committed by the second gateway itself arrives.
      await eventually(async () => {
        await finishedRun(second);
        return updates.items.length > 0;
      }, 10_000, 'subscription live');
      const seen = updates.items.length;
      // Triggered and finished on the first gateway: the second hears every state only through the fan-out
      // (the trigger's `requested` is committed by the first alone).
      const runId = await finishedRun(first);
      await eventually(() => updates.items.slice(seen).some((u) => u.id === runId && u.state === 'succeeded'), 10_000, 'succeeded on the second gateway');
      expect(updates.items.slice(seen).filter((u) => u.id === runId).map((u) => u.state)[0]).toBe('requested');
      expect(fanoutMessages()).toBeGreaterThan(0);
      updates.stop();
      await client.dispose();
    } finally {
      await second.close();
    }
    // A clean stop clears the presence (an empty retained message).
    await eventually(() => presences(secondId).at(-1)!.payload === '', 5_000, 'presence cleared');
    const before = fanoutMessages();
    await finishedRun(first);
    await new Promise((r) => setTimeout(r, 300));
    expect(fanoutMessages()).toBe(before);
  });
});
