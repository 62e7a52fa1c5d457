// A graphql-ws subscriber that stops reading is disconnected with 4429 and a
// clear reason once its bounded queue is full, rather than the gateway
// buffering without bound (frames are written a tick at a time, http/ws-socket.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW_SUBSCRIBER_CLOSE_CODE } from '../server/src/events/live.js';
import type { Command, TestAxon } from './helpers/axon.js';
import type { TestGateway } from './helpers/gateway.js';
import { type GatewayWithAxon, startGatewayWithAxon } from './helpers/gateway-with-axon.js';
import { openAcked } from './helpers/transports.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;
const RUN_EVENTS = `subscription E($runId: ID!) { runEvents(runId: $runId) { seq data } }`;

let fixture: GatewayWithAxon | undefined;
beforeAll(async () => {
  fixture = await startGatewayWithAxon('slow');
  ({ gw, axon, serviceId } = fixture);
});
afterAll(async () => {
  await fixture?.close();
});

describe('slow graphql-ws subscribers', () => {
  it('closes a subscriber that stops reading with 4429 "subscriber too slow"', async () => {
    const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work', input: {} } });
    const runId = res.data!.triggerAction.run.id;
    const command = await eventually(() => axon.commands.find((c: Command) => c.parameters.runId === runId), 10_000, 'command');
    const { socket, received } = await openAcked(gw.url);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: RUN_EVENTS, variables: { runId } } }));
    await eventually(() => received.some((m) => m.includes('"seq":2')), 10_000, 'the replayed events');
    socket.pause();
    // 3,000 events of ~12 KB: more than loopback's socket buffers and the 1,000-item queue together.
    const filler = 'x'.repeat(12_000);
    // Committed events reach the subscriber's queue at once; each batch waits until stored
    // (a shared broker acknowledges the Axon before the gateway commits, and caps its queues).
    const STORED = `query S($id: ID!, $after: Int!) { run(id: $id) { events(after: $after, first: 1) { seq } } }`;
    const stored = async (seq: number) => (await gw.gql<{ run: { events: Array<{ seq: number }> } }>(STORED, { id: runId, after: seq - 1 })).data?.run.events.length === 1;
    for (let sent = 0; sent < 3_000; sent += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => axon.event(command, 'progress', { message: filler, step: sent + j })));
      await eventually(() => stored(2 + sent + 100), 30_000, `event ${2 + sent + 100} stored`);
    }
    // Reading again, the client gets what was written before the close, then the close.
    socket.resume();
    const outcome = await Promise.race([closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 60_000))]);
    expect(outcome).toEqual({ code: SLOW_SUBSCRIBER_CLOSE_CODE, reason: 'subscriber too slow' });
    const delivered = received.filter((m) => m.includes('"type":"next"')).length;
    expect(delivered).toBeGreaterThan(2);
    expect(delivered).toBeLessThan(3_002);
  }, 120_000);
});
