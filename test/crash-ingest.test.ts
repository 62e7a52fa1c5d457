// Crash safety of event ingest: the gateway is killed (SIGKILL) while an Axon
// streams 1,000 QoS 1 events; after a restart every event is stored exactly
// once. With the embedded broker the PUBACK waits for the commit; with
// Mosquitto the gateway's persistent session keeps what it did not acknowledge.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAxon } from './helpers/axon.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
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

const EVENTS = 1_000;

describe.each([
  { broker: 'the embedded broker', external: false },
  { broker: 'a private Mosquitto', external: true },
])('SIGKILL during an event stream, with $broker', ({ external }) => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase({ onDisk: true });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it(`stores each of ${EVENTS} events exactly once`, async () => {
    const port = await freePort();
    const mqttPort = await freePort();
    const prefix = `synapse-test-${randomUUID().slice(0, 8)}/v1`;
    const env = {
      PORT: String(port),
      LOG_LEVEL: 'warn',
      MQTT_TOPIC_PREFIX: prefix,
      MQTT_CLIENT_ID: `gw-ingest-${randomUUID().slice(0, 8)}`,
      SYNAPSE_HEARTBEAT_TIMEOUT_S: '600',
      ...(db.url ? { DATABASE_URL: db.url } : { SYNAPSE_DATA_DIR: db.dataDir }),
      ...(external ? { MQTT_URL: mosquitto.url } : { MQTT_PORT: String(mqttPort) }),
    };
    const brokerUrl = external ? mosquitto.url : `mqtt://127.0.0.1:${mqttPort}`;
    const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<T | undefined> => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
        return ((await res.json()) as { data?: T }).data;
      } catch {
        return undefined;
      }
    };
    async function storedEvents(runId: string): Promise<Array<{ seq: number; id: string; type: string }>> {
      const all: Array<{ seq: number; id: string; type: string }> = [];
      for (let after = 0; ; ) {
        const data = await gql<{ run: { events: Array<{ seq: number; id: string; type: string }> } }>(`query { run(id: "${runId}") { events(after: ${after}, first: 500) { seq id type } } }`);
        const page = data?.run.events ?? [];
        all.push(...page);
        if (page.length < 500) return all;
        after = page.at(-1)!.seq;
      }
    }

    const first = spawnGateway(env);
    await first.waitFor(/GraphiQL:/);
    const serviceId = `ingest-${randomUUID().slice(0, 8)}`;
    const axon = await startTestAxon({ url: brokerUrl, prefix, serviceId, ttl: 600 });
    await eventually(async () => (await gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`))?.service, 10_000, 'service');
    const trigger = await gql<{ triggerAction: { run: { id: string } } }>(`mutation { triggerAction(input: { serviceId: "${serviceId}", actionId: "restart" }) { ... on TriggerPayload { run { id } } } }`);
    const runId = trigger!.triggerAction.run.id;
    const [command] = await axon.waitForCommands(1);

    // Stream 1,000 events without waiting; kill the gateway part-way.
    const sent = Array.from({ length: EVENTS }, (_, i) => axon.event(command!, 'progress', { progress: i / EVENTS, n: i }));
    await eventually(async () => (await storedEvents(runId)).length > 150, 20_000, 'some events stored');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = spawnGateway(env);
    await second.waitFor(/GraphiQL:/, 30_000);
    await Promise.all(sent);
    const stored = await eventually(async () => {
      const events = await storedEvents(runId);
      return events.filter((e) => e.type.endsWith('.progress')).length >= EVENTS ? events : undefined;
    }, 40_000, 'all events stored');
    const progress = stored.filter((e) => e.type.endsWith('.progress'));
    expect(progress).toHaveLength(EVENTS);
    expect(new Set(progress.map((e) => e.id)).size).toBe(EVENTS);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: stored.length }, (_, i) => i + 1));
    await axon.close();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);
});
