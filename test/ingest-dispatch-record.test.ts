// A command's `dispatched` record that the relay deferred is taken by the ingest
// of the Axon's quick answer and written in the same statement, marking the
// command sent, or given back untouched when that statement cannot be used. The
// gateway's relay is paused here, so its command stays unsent; a second ingest
// on the same database plays the part of the taking gateway, with a recording
// relay, so the outcome of each case is certain rather than a matter of timing.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventIngest } from '../server/src/events/ingest.js';
import { createLogger } from '../server/src/observability/logger.js';
import { randomFillSync } from 'node:crypto';
import { buildGatewayEvent, createUuidv7Generator, pooledRandomBytes } from '../server/src/protocol/index.js';
import { runs } from '../server/src/db/schema.js';
import type { TakenDispatch } from '../server/src/runs/relay.js';
import { createRunVersions } from '../server/src/runs/versions.js';
import { type Command, eventEnvelope, startTestAxon, type TestAxon } from './helpers/axon.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

let gw: TestGateway;
let axon: TestAxon;
const serviceId = `record-${randomUUID().slice(0, 8)}`;
const newId = createUuidv7Generator(Date.now, pooledRandomBytes((buffer) => randomFillSync(buffer)));

beforeAll(async () => {
  gw = await startTestGateway({ SYNAPSE_OUTBOX_PAUSED: 'true' });
  axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, actions: ['work'] });
  await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
});
afterAll(async () => {
  await axon?.close();
  await gw?.close();
});

const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;

/** A triggered run whose command sits unsent in the outbox, and that command's row. */
async function pendingRun(): Promise<{ runId: string; outboxId: number; command: Command }> {
  const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work', input: {} } });
  const runId = res.data!.triggerAction.run.id;
  const rows = await gw.gateway.database.db.execute(sql`select id, payload from outbox where run_id = ${runId} and sent_at is null`);
  const row = (rows as unknown as { rows?: Array<{ id: number; payload: Command }> }).rows?.[0] ?? (rows as unknown as Array<{ id: number; payload: Command }>)[0]!;
  return { runId, outboxId: Number(row.id), command: typeof row.payload === 'string' ? (JSON.parse(row.payload) as Command) : row.payload };
}

async function stored(runId: string) {
  const result = await gw.gateway.database.db.execute(sql`select seq, type, state from run_events where run_id = ${runId} order by seq`);
  const rows = (result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[]);
  return (rows as Array<{ seq: number; type: string; state: string }>).map((r) => [Number(r.seq), r.type.split('.').pop(), r.state]);
}

async function outboxSent(outboxId: number): Promise<boolean> {
  const result = await gw.gateway.database.db.execute(sql`select sent_at from outbox where id = ${outboxId}`);
  const rows = (result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[]);
  return (rows as Array<{ sent_at: unknown }>)[0]!.sent_at !== null;
}

function recordOf(runId: string, outboxId: number, command: Command): TakenDispatch {
  const envelope = buildGatewayEvent({
    id: newId(),
    now: Date.now(),
    tenant: command.tenant,
    shortType: 'dispatched',
    data: { status: 'dispatched' },
    traceId: command.traceId,
    resourceTrn: command.target,
    runId,
    correlationId: command.id,
  });
  if (!envelope.ok) throw new Error(envelope.error.message);
  return { runId, outboxId, envelope: envelope.value, reason: 'command published' };
}

describe('a deferred dispatched record taken by the ingest', () => {
  it.each([
    ['the run as this process last wrote it', false, [[1, 'requested', 'requested'], [2, 'dispatched', 'dispatched'], [3, 'succeeded', 'succeeded']], true],
    ['a run changed by another writer since', true, [[1, 'requested', 'requested'], [2, 'succeeded', 'succeeded']], false],
  ] as const)('%s: written with the answer, or given back untouched', async (_name, stale, events, sent) => {
    const { runId, outboxId, command } = await pendingRun();
    const versions = createRunVersions();
    if (stale) {
      // This process believes it wrote the run last; the version it remembers is gone.
      const [row] = await gw.gateway.database.db.select().from(runs).where(sql`id = ${runId}`);
      versions.remember({ ...row!, version: '1' });
    }
    const record = recordOf(runId, outboxId, command);
    const calls = { taken: 0, givenBack: 0, written: 0 };
    const ingest = createEventIngest({
      db: gw.gateway.database.db,
      logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
      newId,
      now: Date.now,
      runVersions: versions,
      dispatches: {
        dispatching: () => undefined,
        take: (id) => (id === runId && calls.taken++ === 0 ? record : undefined),
        giveBack: (taken) => {
          expect(taken).toBe(record);
          calls.givenBack += 1;
        },
        written: (taken) => {
          expect(taken).toBe(record);
          calls.written += 1;
        },
      },
    });
    const result = await ingest.ingestJson(eventEnvelope(command, serviceId, 'succeeded', { output: { ok: true } }), { serviceId });
    expect(result.ok).toBe(true);
    expect(calls).toEqual({ taken: 1, givenBack: sent ? 0 : 1, written: sent ? 1 : 0 });
    expect(await stored(runId)).toEqual(events);
    // Written: the command is marked sent with it. Given back: the relay still owns it, unsent.
    expect(await outboxSent(outboxId)).toBe(sent);
  });
});
