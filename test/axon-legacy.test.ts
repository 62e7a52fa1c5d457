// Compatibility with the MVP: an Axon written for seed 000 (memory_axon.py,
// here as a Node stand-in in its own process) announces the MVP shape, reads
// only `action_id` from the command topic, and prints its line when
// restart_process is triggered, through the REST route and through triggerAction.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

const SERVICE = 'memory-sidecar-python';
const LINE = '>>> ACTION: Restarting Process...';
let gw: TestGateway;
let legacy: ChildProcess;
let out = '';
const lines = (text: string) => out.split('\n').filter((l) => l === text).length;

beforeAll(async () => {
  // With its own embedded broker, the gateway can use the MVP's literal prefix.
  gw = await startTestGateway(process.env.MQTT_URL ? {} : { MQTT_TOPIC_PREFIX: 'synapse/v1' });
  legacy = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/memory-axon.mjs', import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', MQTT_URL: gw.gateway.brokerUrl, SYNAPSE_PREFIX: gw.prefix },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  legacy.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  legacy.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await eventually(async () => (await gw.gql<{ service: { status: string } | null }>(`query { service(id: "${SERVICE}") { status } }`)).data?.service?.status === 'online', 15_000, `the legacy Axon to announce itself:\n${out}`);
});
afterAll(async () => {
  legacy?.kill('SIGTERM');
  await gw?.close();
});

describe('an MVP Axon (memory_axon.py) works unchanged', () => {
  it('is catalogued from its widgets', async () => {
    const r = await gw.gql<{ service: { name: string; actions: Array<{ id: string }> } }>(`query { service(id: "${SERVICE}") { name actions { id } } }`);
    expect(r.data!.service.name).toBe('Memory Sidecar (Python)');
    expect(r.data!.service.actions.map((a) => a.id).sort()).toEqual(['drop_cache', 'restart_process']);
  });

  it('restarts when triggered through the REST route', async () => {
    const res = await gw.rest('POST', `/api/v1/services/${SERVICE}/actions/restart_process`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ok: true, runId: expect.any(String) });
    await eventually(() => lines(LINE) === 1, 10_000, 'the line').catch((e: unknown) => {
      throw new Error(`${String(e)}; output:\n${out}`);
    });
    expect(out).toContain('Executing action: restart_process (issued by user)');
  });

  it('restarts when triggered through triggerAction, and drops its cache', async () => {
    const trigger = (actionId: string) =>
      gw.gql<{ triggerAction: { run: { id: string } } }>(`mutation T($i: TriggerActionInput!) { triggerAction(input: $i) { ... on TriggerPayload { run { id } } } }`, { i: { serviceId: SERVICE, actionId } });
    expect((await trigger('restart_process')).data!.triggerAction.run.id).toEqual(expect.any(String));
    expect((await trigger('drop_cache')).data!.triggerAction.run.id).toEqual(expect.any(String));
    await eventually(() => lines(LINE) === 2 && lines('>>> ACTION: Dropping Cache...') === 1, 10_000, 'the lines').catch((e: unknown) => {
      throw new Error(`${String(e)}; output:\n${out}`);
    });
    expect(out).toContain('Executing action: restart_process (issued by graphql)');
  });

  it('gets a 404 for an action it does not declare, and prints nothing', async () => {
    const res = await gw.rest('POST', `/api/v1/services/${SERVICE}/actions/format_disk`);
    expect(res).toMatchObject({ status: 404, body: { error: 'unknown_action' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(out).not.toContain('format_disk');
  });
});
