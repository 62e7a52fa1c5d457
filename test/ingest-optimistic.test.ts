// The ingest writes an idle Axon's event in one statement, checked against the
// run's row version it last saw (runs/versions.ts, events/ingest.ts). These
// cases make that check matter: another writer changed the run meanwhile, the
// same event arrives twice, and an Axon answers before the relay has recorded
// `dispatched`. Each must leave the run's log gap-free, in order, each event once.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command, TestAxon } from './helpers/axon.js';
import type { TestGateway } from './helpers/gateway.js';
import { type GatewayWithAxon, startGatewayWithAxon } from './helpers/gateway-with-axon.js';
import { eventually } from './helpers/wait.js';

let fixture: GatewayWithAxon | undefined;
let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;

beforeAll(async () => {
  fixture = await startGatewayWithAxon('optimistic');
  ({ gw, axon, serviceId } = fixture);
});
afterAll(async () => {
  await fixture?.close();
});

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;
type Ev = { seq: number; type: string; state: string; data: Record<string, unknown> | null };
type Run = { state: string; events: Ev[] };

async function trigger(input: unknown): Promise<{ runId: string; command: Command }> {
  const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work', input } });
  const runId = res.data!.triggerAction.run.id;
  const command = await eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, `command of ${runId}`);
  return { runId, command };
}

async function run(runId: string): Promise<Run> {
  const res = await gw.gql<{ run: Run }>(`query { run(id: "${runId}") { state events(first: 100) { seq type state data } } }`);
  return res.data!.run;
}

const short = (type: string) => type.split('.').pop();

describe('optimistic event writes', () => {
  it('stores an event after a write by another gateway that this one did not see', async () => {
    const { runId, command } = await trigger({ case: 'foreign' });
    await eventually(async () => ((await run(runId)).state === 'dispatched' ? true : undefined), 10_000, 'dispatched');
    // Another gateway appends an event and moves nothing: the run's next sequence number and row version change.
    await gw.gateway.database.db.execute(sql`with r as (update runs set next_seq = next_seq + 1, updated_at = now(), last_event_at = now() where id = ${runId} returning id, tenant, next_seq - 1 as seq)
      insert into run_events (run_id, seq, tenant, source, event_id, type, time, state, reason, data, envelope)
      select id, seq, tenant, 'trn:other', ${randomUUID()}, 'aionix.openact.action.progress', now(), 'dispatched', 'from another gateway', '{"i":0}'::jsonb, '{}'::jsonb from r`);
    await axon.event(command, 'accepted');
    await axon.event(command, 'succeeded', { output: { ok: true } });
    const done = await eventually(async () => {
      const r = await run(runId);
      return r.state === 'succeeded' ? r : undefined;
    }, 10_000, 'succeeded');
    expect(done.events.map((e) => [e.seq, short(e.type)])).toEqual([
      [1, 'requested'],
      [2, 'dispatched'],
      [3, 'progress'],
      [4, 'accepted'],
      [5, 'succeeded'],
    ]);
  });

  it('stores an event that arrives twice, one after the other, once', async () => {
    const { runId, command } = await trigger({ case: 'twice' });
    const id = randomUUID();
    await axon.event(command, 'progress', { progress: 0.5 }, id);
    await axon.event(command, 'progress', { progress: 0.5 }, id);
    await axon.event(command, 'succeeded');
    const done = await eventually(async () => {
      const r = await run(runId);
      return r.state === 'succeeded' ? r : undefined;
    }, 10_000, 'succeeded');
    expect(done.events.map((e) => short(e.type))).toEqual(['requested', 'dispatched', 'progress', 'succeeded']);
    expect(gw.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it('records dispatched before the answer of an Axon that answers the moment it gets the command', async () => {
    const answered = new Set<string>();
    const onMessage = (_topic: string, payload: Buffer) => {
      const command = JSON.parse(payload.toString()) as Command;
      if (!command.parameters?.runId || answered.has(command.id)) return;
      answered.add(command.id);
      void axon.event(command, 'succeeded', { output: { echo: command.parameters.input } });
    };
    axon.client.on('message', onMessage);
    try {
      const runIds: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work', input: { fast: i } } });
        runIds.push(res.data!.triggerAction.run.id);
      }
      for (const runId of runIds) {
        const done = await eventually(async () => {
          const r = await run(runId);
          return r.events.length === 3 ? r : undefined;
        }, 10_000, `three events of ${runId}`);
        expect(done.events.map((e) => [e.seq, short(e.type), e.state])).toEqual([
          [1, 'requested', 'requested'],
          [2, 'dispatched', 'dispatched'],
          [3, 'succeeded', 'succeeded'],
        ]);
      }
    } finally {
      axon.client.off('message', onMessage);
    }
  });
});
