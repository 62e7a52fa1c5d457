// The MQTT edge rows shared by the embedded broker and Mosquitto
// (test/mqtt-acl-*.test.ts): two Axons A and B with their own credentials,
// created through GraphQL. B tries to pass as A in every way we know; A's own
// flow must keep working.
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Command, eventEnvelope, snapshot, startTestAxon, type TestAxon } from './axon.js';
import type { TestGateway } from './gateway.js';
import { eventually } from './wait.js';

export interface CreatedCredential {
  id: string;
  serviceId: string;
  secret: string;
  mosquittoPasswordLine: string;
}

export interface AclSetup {
  kind: 'embedded' | 'mosquitto';
  gw: TestGateway;
  /** The API key for GraphQL (secured gateway). */
  key: string;
  brokerUrl: string;
  /** Makes new credentials known to the broker (Mosquitto: password-file lines and a reload). */
  register(created: CreatedCredential[]): Promise<void>;
  /** Makes a revoked credential unknown to the broker (Mosquitto: drops its line and reloads). */
  unregister(created: CreatedCredential): Promise<void>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function gqlAs<T>(gw: TestGateway, key: string | null, query: string, variables?: Record<string, unknown>): Promise<{ data?: T; errors?: Array<{ message: string }> }> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
}

export async function createCredential(gw: TestGateway, key: string | null, serviceId: string): Promise<CreatedCredential> {
  const r = await gqlAs<{ createAgentCredential: { credential?: { id: string; serviceId: string }; secret?: string; mosquittoPasswordLine?: string; message?: string } }>(
    gw,
    key,
    `mutation C($s: ID!) { createAgentCredential(serviceId: $s) { ... on CreateAgentCredentialPayload { credential { id serviceId } secret mosquittoPasswordLine } ... on Error { message } } }`,
    { s: serviceId },
  );
  const p = r.data?.createAgentCredential;
  if (!p?.credential || !p.secret || !p.mosquittoPasswordLine) throw new Error(`createAgentCredential failed: ${JSON.stringify(r)}`);
  return { id: p.credential.id, serviceId: p.credential.serviceId, secret: p.secret, mosquittoPasswordLine: p.mosquittoPasswordLine };
}

/** Connects, or resolves to the refusal (CONNACK code) without retrying. */
export async function tryConnect(url: string, options: IClientOptions): Promise<{ client: MqttClient } | { refused: number | string }> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, protocolVersion: 4, clean: true, ...options });
    return { client };
  } catch (error) {
    return { refused: (error as { code?: number }).code ?? String(error) };
  }
}

export function describeMqttAcl(title: string, start: () => Promise<AclSetup>): void {
  describe(title, () => {
    let s: AclSetup;
    let A: CreatedCredential;
    let B: CreatedCredential;
    let C: CreatedCredential;
    let axonA: TestAxon;
    let b: MqttClient;
    const prefix = () => s.gw.prefix;
    /** B's own view of what it received, by topic. */
    const bReceived: Array<{ topic: string; payload: string }> = [];
    let aDisconnects = 0;

    const gql = <T>(query: string, variables?: Record<string, unknown>) => gqlAs<T>(s.gw, s.key, query, variables);
    const service = async (id: string) =>
      (await gql<{ service: { name: string; status: string } | null }>(`query { service(id: "${id}") { name status } }`)).data?.service ?? null;
    const trigger = async (serviceId: string, actionId = 'restart') => {
      const r = await gql<{ triggerAction: { run?: { id: string } } }>(`mutation T($i: TriggerActionInput!) { triggerAction(input: $i) { ... on TriggerPayload { run { id } } } }`, {
        i: { serviceId, actionId },
      });
      const id = r.data?.triggerAction.run?.id;
      if (!id) throw new Error(`trigger failed: ${JSON.stringify(r)}`);
      return id;
    };
    const run = async (id: string) =>
      (await gql<{ run: { state: string; events: Array<{ type: string; source: string }> } }>(`query { run(id: "${id}") { state events(first: 100) { type source } } }`)).data!.run;
    /** Triggers A and returns the command A received for it. */
    const commandForA = async () => {
      const before = axonA.commands.length;
      const id = await trigger(A.serviceId);
      const [command] = (await axonA.waitForCommands(before + 1)).slice(before);
      expect(command!.parameters.runId).toBe(id);
      return command!;
    };
    const envelope = (command: Command, sourceService: string, short: string) => eventEnvelope(command, sourceService, short);
    const rejectedLogs = (code: string) => s.gw.logs.filter((l) => l.msg === 'event rejected' && l.code === code).length;

    beforeAll(async () => {
      s = await start();
      const tag = randomUUID().slice(0, 8);
      A = await createCredential(s.gw, s.key, `axon-a-${tag}`);
      B = await createCredential(s.gw, s.key, `axon-b-${tag}`);
      C = await createCredential(s.gw, s.key, `axon-c-${tag}`);
      await s.register([A, B, C]);
      axonA = await startTestAxon({ url: s.brokerUrl, prefix: prefix(), serviceId: A.serviceId, credentials: { username: A.serviceId, password: A.secret } });
      axonA.client.on('close', () => (aDisconnects += 1));
      const connected = await tryConnect(s.brokerUrl, { clientId: B.serviceId, username: B.serviceId, password: B.secret, clean: true });
      if (!('client' in connected)) throw new Error(`B was refused: ${connected.refused}`);
      b = connected.client;
      b.on('message', (topic, payload) => bReceived.push({ topic, payload: payload.toString() }));
      await b.subscribeAsync(`${prefix()}/command/${B.serviceId}`, { qos: 1 });
      await b.publishAsync(`${prefix()}/discovery/${B.serviceId}`, JSON.stringify(snapshot({ url: '', prefix: '', serviceId: B.serviceId })), { qos: 1 });
      await eventually(async () => (await service(A.serviceId))?.status === 'online' && (await service(B.serviceId))?.status === 'online', 15_000, 'A and B online');
    });
    afterAll(async () => {
      await axonA?.close().catch(() => {});
      await b?.endAsync().catch(() => {});
      await s?.close();
    });

    describe('connections', () => {
      const rows: Array<[string, () => IClientOptions]> = [
        ['anonymous', () => ({ clientId: `anon-${randomUUID().slice(0, 8)}` })],
        ['A with a wrong password', () => ({ clientId: A.serviceId, username: A.serviceId, password: `sga_${'0'.repeat(32)}_${'x'.repeat(43)}` })],
        ["A's user name with B's secret", () => ({ clientId: A.serviceId, username: A.serviceId, password: B.secret })],
        ['A without a password', () => ({ clientId: A.serviceId, username: A.serviceId })],
        ['an unknown service', () => ({ clientId: 'nobody-here', username: 'nobody-here', password: A.secret })],
      ];
      it.each(rows)('refuses %s', async (_name, options) => {
        const outcome = await tryConnect(s.brokerUrl, options());
        if ('client' in outcome) await outcome.client.endAsync();
        expect(outcome).toMatchObject({ refused: expect.anything() });
        expect([2, 4, 5]).toContain((outcome as { refused: number }).refused);
      });

      it("does not let C take A's client id (refused, or connected as C)", async () => {
        const disconnects = aDisconnects;
        const outcome = await tryConnect(s.brokerUrl, { clientId: A.serviceId, username: C.serviceId, password: C.secret });
        if ('client' in outcome) {
          // Mosquitto (use_username_as_clientid): the session is C's, so A's discovery is not C's to publish.
          await outcome.client.publishAsync(`${prefix()}/discovery/${A.serviceId}`, JSON.stringify(snapshot({ url: '', prefix: '', serviceId: A.serviceId }, { name: 'Forged by C' })), { qos: 1 });
          await outcome.client.endAsync();
        } else {
          expect(outcome.refused).toBe(2);
        }
        await sleep(400);
        expect(aDisconnects).toBe(disconnects);
        expect((await service(A.serviceId))?.name).toBe(`Test ${A.serviceId}`);
      });
    });

    describe("B cannot act as A", () => {
      it("B's discovery on A's topic changes nothing", async () => {
        await b.publishAsync(`${prefix()}/discovery/${A.serviceId}`, JSON.stringify(snapshot({ url: '', prefix: '', serviceId: A.serviceId }, { name: 'Forged by B' })), { qos: 1 });
        // B's own snapshot after it, as a fence: once that is in, the forged one would be too.
        await b.publishAsync(`${prefix()}/discovery/${B.serviceId}`, JSON.stringify(snapshot({ url: '', prefix: '', serviceId: B.serviceId }, { name: 'B fence 1' })), { qos: 1 });
        await eventually(async () => (await service(B.serviceId))?.name === 'B fence 1', 5_000, 'the fence');
        await sleep(200);
        expect((await service(A.serviceId))?.name).toBe(`Test ${A.serviceId}`);
        expect(b.connected).toBe(true);
      });

      const forgedEvents: Array<[string, (cmd: Command) => { topic: string; source: string }, string | null]> = [
        ["A's event on A's topic", () => ({ topic: `${prefix()}/event/${A.serviceId}`, source: A.serviceId }), null],
        ["an event with A's source on B's topic", () => ({ topic: `${prefix()}/event/${B.serviceId}`, source: A.serviceId }), 'service_mismatch'],
        ["an event for A's run with B's source on B's topic", () => ({ topic: `${prefix()}/event/${B.serviceId}`, source: B.serviceId }), 'service_mismatch'],
      ];
      it.each(forgedEvents)('B publishing %s stores nothing', async (_name, where, rejection) => {
        const command = await commandForA();
        const rejectedBefore = rejection ? rejectedLogs(rejection) : 0;
        const { topic, source } = where(command);
        await b.publishAsync(topic, JSON.stringify(envelope(command, source, 'succeeded')), { qos: 1 });
        if (rejection) await eventually(() => rejectedLogs(rejection) > rejectedBefore, 5_000, `a ${rejection} rejection`);
        else await sleep(400);
        const r = await run(command.parameters.runId);
        expect(r.state).not.toBe('succeeded');
        expect(r.events.some((e) => e.type.endsWith('.succeeded'))).toBe(false);
        // A's own event for the same run still counts.
        await axonA.event(command, 'succeeded');
        await eventually(async () => (await run(command.parameters.runId)).state === 'succeeded', 5_000, "A's own event");
      });

      it('A cannot send an event with B\'s source on its own topic, nor for B\'s run', async () => {
        const before = bReceived.length;
        const runB = await trigger(B.serviceId);
        await eventually(() => bReceived.slice(before).find((m) => m.topic === `${prefix()}/command/${B.serviceId}`), 5_000, "B's command");
        const commandB = JSON.parse(bReceived.slice(before).find((m) => m.topic === `${prefix()}/command/${B.serviceId}`)!.payload) as Command;
        expect(commandB.parameters.runId).toBe(runB);
        const rejectedBefore = rejectedLogs('service_mismatch');
        await axonA.client.publishAsync(`${prefix()}/event/${A.serviceId}`, JSON.stringify(envelope(commandB, B.serviceId, 'failed')), { qos: 1 });
        await axonA.client.publishAsync(`${prefix()}/event/${A.serviceId}`, JSON.stringify(envelope(commandB, A.serviceId, 'failed')), { qos: 1 });
        await eventually(() => rejectedLogs('service_mismatch') >= rejectedBefore + 2, 5_000, 'two service_mismatch rejections');
        expect((await run(runB)).state).not.toBe('failed');
      });

      it("B's command to A never reaches A", async () => {
        const before = axonA.commands.length;
        const forged = { ...(await commandForA()), id: randomUUID() };
        await b.publishAsync(`${prefix()}/command/${A.serviceId}`, JSON.stringify(forged), { qos: 1 });
        await sleep(400);
        expect(axonA.commands.length).toBe(before + 1);
      });

      it.each([['A\'s command topic', (p: string, a: string) => `${p}/command/${a}`], ['every command topic', (p: string) => `${p}/command/+`], ['everything', () => '#'], ['the gateway\'s topics', (p: string) => `${p}/gateway/#`]])(
        'B subscribing to %s receives none of A\'s commands nor the gateway\'s traffic',
        async (_name, filter) => {
          const f = filter(prefix(), A.serviceId);
          const granted = await b.subscribeAsync(f, { qos: 1 }).catch((error: unknown) => error);
          const before = bReceived.length;
          await commandForA();
          await sleep(400);
          const leaked = bReceived.slice(before).filter((m) => m.topic !== `${prefix()}/command/${B.serviceId}`);
          expect(leaked, `subscription ${f} granted as ${JSON.stringify(granted)}`).toEqual([]);
          await b.unsubscribeAsync(f).catch(() => {});
        },
      );
    });

    describe("A's own flow", () => {
      it('discovery → trigger → command → events stored', async () => {
        await axonA.announce({ name: 'A again' });
        await eventually(async () => (await service(A.serviceId))?.name === 'A again', 5_000, "A's snapshot");
        const command = await commandForA();
        await axonA.event(command, 'accepted');
        await axonA.event(command, 'succeeded', { output: { ok: true } });
        await eventually(async () => (await run(command.parameters.runId)).state === 'succeeded', 5_000, 'succeeded');
        const r = await run(command.parameters.runId);
        expect(r.events.filter((e) => e.source.endsWith(`service/${A.serviceId}`)).map((e) => e.type.split('.').pop())).toEqual(['accepted', 'succeeded']);
      });
    });

    describe('revocation', () => {
      it('a revoked credential is refused from the next connection', async () => {
        const D = await createCredential(s.gw, s.key, `axon-d-${randomUUID().slice(0, 8)}`);
        await s.register([D]);
        const options = { clientId: D.serviceId, username: D.serviceId, password: D.secret };
        const first = await tryConnect(s.brokerUrl, options);
        expect(first).toHaveProperty('client');
        const live = (first as { client: MqttClient }).client;
        const closed = new Promise<void>((resolve) => live.once('close', () => resolve()));
        const r = await gqlAs<{ revokeAgentCredential: { __typename: string } }>(s.gw, s.key, `mutation { revokeAgentCredential(id: "${D.id}") { __typename } }`);
        expect(r.data?.revokeAgentCredential.__typename).toBe('RevokeAgentCredentialSuccess');
        await s.unregister(D);
        // The embedded broker also drops the live connection; Mosquitto keeps it until it reconnects.
        if (s.kind === 'embedded') await Promise.race([closed, sleep(6_000).then(() => Promise.reject(new Error('the live connection was not dropped')))]);
        await live.endAsync(true);
        await eventually(async () => {
          const again = await tryConnect(s.brokerUrl, options);
          if ('client' in again) await again.client.endAsync();
          return 'refused' in again;
        }, 5_000, 'the revoked credential to be refused');
      });
    });
  });
}
