// A stream of QoS 1 events larger than one ingest batch (1,200 and some repeats), over several runs and
// one Axon connection, some sent twice: each stored once, every run's log in
// the order the Axon sent it, gap-free. On Postgres the ingest overlaps
// transactions (the next batch starts once the previous holds its run locks);
// with the embedded broker the Axon's packets are read while PUBACKs wait.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Command, TestAxon } from './helpers/axon.js';
import type { TestGateway } from './helpers/gateway.js';
import { type GatewayWithAxon, startGatewayWithAxon } from './helpers/gateway-with-axon.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id state } } ... on Error { code message } } }`;
type Ev = { seq: number; type: string; state: string; data: { i?: number } | null };

let fixture: GatewayWithAxon | undefined;
beforeAll(async () => {
  fixture = await startGatewayWithAxon('order');
  ({ gw, axon, serviceId } = fixture);
});
afterAll(async () => {
  await fixture?.close();
});

async function storedCount(runId: string): Promise<number> {
  const r = await gw.gql<{ run: { events: Array<{ seq: number }> } }>(`query { run(id: "${runId}") { events(first: 500) { seq } } }`);
  return r.data?.run.events.length ?? 0;
}

it('stores a stream of 1,200 events over 3 runs once each, in the order sent, with gap-free sequence numbers', async () => {
  const runIds: string[] = [];
  for (let r = 0; r < 3; r++) {
    const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work', input: { r } } });
    runIds.push(res.data!.triggerAction.run.id);
  }
  const commands: Command[] = [];
  for (const runId of runIds) commands.push(await eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, `command of ${runId}`));
  const perRun = 400; // + requested and dispatched: one page of run.events (at most 500)
  const sends: Array<Promise<unknown>> = [];
  const repeats: Array<{ command: Command; i: number; id: string }> = [];
  for (let i = 0; i < perRun; i++) {
    for (const command of commands) {
      const id = randomUUID();
      sends.push(axon.event(command, 'progress', { i, progress: i / perRun }, id));
      if (i % 50 === 7) repeats.push({ command, i, id });
    }
    // Some events again, a little later in the stream (as after a reconnect): duplicates.
    if (i % 50 === 20) for (const again of repeats.splice(0)) sends.push(axon.event(again.command, 'progress', { i: again.i, progress: again.i / perRun }, again.id));
    // A broker with its default queue limit (Mosquitto: 1,000 messages per session) drops
    // QoS 1 messages beyond it: at most ~600 events unstored at a time.
    if (i % 100 === 99) {
      await Promise.all(sends);
      const sent = i + 1;
      await eventually(async () => (await Promise.all(runIds.map((id) => storedCount(id)))).every((n) => n >= sent + 2 - 100) || undefined, 30_000, 'the stream to be stored');
    }
  }
  await Promise.all(sends);
  for (const runId of runIds) {
    const events = await eventually(
      async () => {
        const r = await gw.gql<{ run: { events: Ev[] } }>(`query { run(id: "${runId}") { events(first: 500) { seq type state data } } }`);
        const list = r.data?.run.events ?? [];
        return list.length >= perRun + 2 ? list : undefined;
      },
      30_000,
      `events of ${runId}`,
    );
    expect(events.length).toBe(perRun + 2);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: perRun + 2 }, (_, k) => k + 1));
    const progress = events.filter((e) => e.type.endsWith('.progress'));
    expect(progress.map((e) => e.data?.i)).toEqual(Array.from({ length: perRun }, (_, k) => k));
  }
}, 120_000);
