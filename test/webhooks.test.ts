// Webhooks end to end: a real gateway (small backoff values), real HTTP
// receivers on free local ports, a real broker and a test Axon. Retries with
// backoff and Retry-After, dead letters and redelivery, signatures, the
// event-type filter, the Stepflow waiter, and several workers sharing the
// delivery outbox without sending any attempt twice.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../server/src/config/config.js';
import { runEvents, runs } from '../server/src/db/schema.js';
import { type Gateway, startGateway } from '../server/src/gateway.js';
import { createLogger } from '../server/src/observability/logger.js';
import type { Tx } from '../server/src/runs/events.js';
import { verifySignature } from '../server/src/webhooks/signature.js';
import { createWebhookStore } from '../server/src/webhooks/store.js';
import { createWebhookWorker } from '../server/src/webhooks/worker.js';
import type { Database } from '../server/src/db/client.js';
import { type Command, startTestAxon, type TestAxon } from './helpers/axon.js';
import { freshDatabase, usingPostgres } from './helpers/database.js';
import { messagingEnv, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { eventually } from './helpers/wait.js';

// ---------------------------------------------------------------- receivers

interface Received {
  at: number;
  /** Path and query: tests give each endpoint a query of its own. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  status: number;
}

type Answer = { status: number; headers?: Record<string, string>; delayMs?: number };

interface Receiver {
  url: string;
  requests: Received[];
  /** How the next request is answered (default 200). */
  answer: (req: { headers: IncomingHttpHeaders; json: Record<string, unknown> }) => Answer;
  /** Requests about a run (`runId` of the envelope), optionally only those to endpoints whose URL ends with `tag`. */
  forRun(runId: string, tag?: string): Received[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    requests: [],
    answer: () => ({ status: 200 }),
    forRun: (runId, tag) => receiver.requests.filter((r) => r.json.runId === runId && (tag === undefined || r.path.endsWith(tag))),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // recorded as is
      }
      const answer = receiver.answer({ headers: req.headers, json });
      receiver.requests.push({ at, path: req.url ?? '', headers: req.headers, body, json, status: answer.status });
      setTimeout(() => {
        res.writeHead(answer.status, { 'content-type': 'text/plain', ...(answer.headers ?? {}) });
        res.end(answer.status >= 300 ? 'receiver says no' : 'ok');
      }, answer.delayMs ?? 0);
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return receiver;
}

const attemptOf = (r: Received) => Number(r.headers['synapse-delivery-attempt']);
const deliveryIdOf = (r: Received) => String(r.headers['synapse-delivery-id']);
const shortType = (r: Received) => String(r.json.type).replace('aionix.openact.action.', '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the gateway

const BASE_MS = 50;
const CAP_MS = 2_000;
const MAX_ATTEMPTS = 4;
const STEPFLOW_SECRET = 'stepflow-secret-0123456789';

let gw: TestGateway;
let axon: TestAxon;
let serviceId: string;
let hooks: Receiver;
let stepflow: Receiver;

const CREATE = `mutation C($input: CreateWebhookInput!) { createWebhook(input: $input) {
  __typename ... on CreateWebhookPayload { secret webhook { id url eventTypes createdAt } } ... on Error { code field message } } }`;
const DELETE = `mutation D($id: ID!) { deleteWebhook(id: $id) { __typename ... on DeleteWebhookSuccess { id } ... on Error { code field message } } }`;
const DELIVERIES = `query Q($webhookId: ID, $status: WebhookDeliveryStatus, $first: Int) { webhookDeliveries(webhookId: $webhookId, status: $status, first: $first) {
  id destination webhookId runId eventSeq eventType status attempts nextAttemptAt lastAttemptAt lastStatus lastError deliveredAt } }`;
const REDELIVER = `mutation R($id: ID!) { redeliverWebhookDelivery(id: $id) { __typename
  ... on RedeliverWebhookDeliverySuccess { delivery { id status attempts } } ... on Error { code field message } } }`;
const TRIGGER = `mutation T($input: TriggerActionInput!) { triggerAction(input: $input) { ... on TriggerPayload { run { id } } } }`;

type Delivery = { id: string; destination: string; webhookId: string | null; runId: string; eventSeq: number; eventType: string; status: string; attempts: number; nextAttemptAt: string | null; lastStatus: number | null; lastError: string | null; deliveredAt: string | null };

/** Endpoints a test created: deleted after it, pass or fail, so no test receives another's events. */
const createdWebhooks = new Set<string>();
async function createWebhook(input: Record<string, unknown>) {
  const res = await gw.gql<{ createWebhook: { __typename: string; secret: string; webhook: { id: string }; code: string; field: string } }>(CREATE, { input });
  const created = res.data!.createWebhook;
  if (created.webhook) createdWebhooks.add(created.webhook.id);
  return created;
}
async function deliveriesOf(webhookId: string | null, status?: string): Promise<Delivery[]> {
  const res = await gw.gql<{ webhookDeliveries: Delivery[] }>(DELIVERIES, { webhookId, status, first: 200 });
  return res.data!.webhookDeliveries;
}
async function trigger(): Promise<{ runId: string; command: Command }> {
  const res = await gw.gql<{ triggerAction: { run: { id: string } } }>(TRIGGER, { input: { serviceId, actionId: 'work' } });
  const runId = res.data!.triggerAction.run.id;
  const command = await eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, `command of ${runId}`);
  return { runId, command };
}
/**
 * Sends while the run's row is locked: what arrives queues up behind the first
 * event and is stored together, more than the single-statement path takes (a
 * transaction with one insert). Resolves once everything sent is acknowledged.
 */
async function sendWhileRunHeld(runId: string, send: () => Promise<unknown>): Promise<void> {
  let sending: Promise<unknown> | undefined;
  await gw.gateway.database.db.transaction(async (tx) => {
    await tx.execute(sql`select id from ${runs} where id = ${runId} for update`);
    sending = send();
    await sleep(500);
  });
  await sending;
}
async function metric(outcome: string, url = gw.url): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^synapse_webhook_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  hooks = await startReceiver();
  stepflow = await startReceiver();
  gw = await startTestGateway({
    SYNAPSE_WEBHOOK_BASE_MS: String(BASE_MS),
    SYNAPSE_WEBHOOK_CAP_MS: String(CAP_MS),
    SYNAPSE_WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    SYNAPSE_WEBHOOK_TIMEOUT_MS: '2000',
    STEPFLOW_EVENTS_URL: stepflow.url,
    STEPFLOW_EVENTS_SECRET: STEPFLOW_SECRET,
    // The receivers listen on loopback; the default (off) is tested below.
    SYNAPSE_WEBHOOK_ALLOW_PRIVATE: 'true',
  });
  serviceId = `wh-${randomUUID().slice(0, 8)}`;
  axon = await startTestAxon({ url: gw.gateway.brokerUrl, prefix: gw.prefix, serviceId, actions: ['work'], ttl: 300 });
  await eventually(async () => (await gw.gql<{ service: unknown }>(`query { service(id: "${serviceId}") { id } }`)).data?.service, 10_000, 'service');
});
afterEach(async () => {
  hooks.answer = () => ({ status: 200 });
  for (const id of createdWebhooks) await gw.gql(DELETE, { id });
  createdWebhooks.clear();
});
afterAll(async () => {
  await axon?.close();
  await gw?.close();
  await hooks?.close();
  await stepflow?.close();
});

// ---------------------------------------------------------------- tests

describe('webhook endpoints', () => {
  it('validates at the edge with typed errors, lists without secrets, deletes, and caps a tenant at 50', async () => {
    expect(await createWebhook({ url: 'ftp://example.com/x', eventTypes: ['succeeded'] })).toMatchObject({ __typename: 'ValidationError', code: 'invalid_url', field: 'url' });
    expect(await createWebhook({ url: `https://example.com/${'a'.repeat(2100)}`, eventTypes: ['*'] })).toMatchObject({ code: 'invalid_url' });
    expect(await createWebhook({ url: hooks.url, eventTypes: ['finished'] })).toMatchObject({ __typename: 'ValidationError', code: 'invalid_event_types', field: 'eventTypes' });
    expect(await createWebhook({ url: hooks.url, eventTypes: ['*'], secret: 'short' })).toMatchObject({ code: 'invalid_secret', field: 'secret' });

    const created = await createWebhook({ url: hooks.url, eventTypes: ['expired', 'lost'] });
    expect(created.__typename).toBe('CreateWebhookPayload');
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const listed = await gw.gql<{ webhooks: Array<{ id: string; url: string; eventTypes: string[] }> }>('query { webhooks { id url eventTypes } }');
    expect(listed.data!.webhooks).toContainEqual({ id: created.webhook.id, url: hooks.url, eventTypes: ['expired', 'lost'] });
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    // 50 per tenant (rarely matching types, so no run of the other tests is sent to them).
    const existing = listed.data!.webhooks.length;
    const more = await Promise.all(Array.from({ length: 50 - existing }, () => createWebhook({ url: hooks.url, eventTypes: ['expired'] })));
    expect(more.every((m) => m.__typename === 'CreateWebhookPayload')).toBe(true);
    expect(await createWebhook({ url: hooks.url, eventTypes: ['expired'] })).toMatchObject({ __typename: 'ValidationError', code: 'too_many_webhooks' });
    for (const id of [created.webhook.id, ...more.map((m) => m.webhook.id)]) {
      expect((await gw.gql<{ deleteWebhook: { __typename: string; id: string } }>(DELETE, { id })).data!.deleteWebhook).toEqual({ __typename: 'DeleteWebhookSuccess', id });
    }
    expect((await gw.gql<{ deleteWebhook: unknown }>(DELETE, { id: created.webhook.id })).data!.deleteWebhook).toMatchObject({ __typename: 'NotFoundError', code: 'not_found' });
    expect((await gw.gql<{ webhooks: unknown[] }>('query { webhooks { id } }')).data!.webhooks).toHaveLength(existing - 1);
  });

  it('signs every request so the receiver can verify it, and respects the event-type filter', async () => {
    const secret = 'receiver-chosen-secret-42';
    const tag = `&t=${randomUUID()}`;
    const onlySucceeded = await createWebhook({ url: `${hooks.url}?only=succeeded${tag}`, eventTypes: ['succeeded'], secret });
    const everything = await createWebhook({ url: `${hooks.url}?all${tag}`, eventTypes: ['*'] });
    expect(onlySucceeded.secret).toBe(secret);
    const { runId, command } = await trigger();
    await axon.event(command, 'accepted');
    await axon.event(command, 'progress', { progress: 0.5 });
    await axon.event(command, 'succeeded', { output: { ok: true } });
    await eventually(() => hooks.forRun(runId, tag).length >= 6, 10_000, 'six requests');
    await sleep(300);
    const got = hooks.forRun(runId, tag);
    expect(got).toHaveLength(6);
    expect(new Set(got.map(deliveryIdOf)).size).toBe(6);
    const bySecret = (r: Received, s: string) =>
      verifySignature(s, { deliveryId: r.headers['synapse-delivery-id'] as string, timestamp: r.headers['synapse-timestamp'] as string, signature: r.headers['synapse-signature'] as string }, r.body, Date.now()).ok;
    const forSucceeded = got.filter((r) => bySecret(r, secret));
    const forAll = got.filter((r) => bySecret(r, everything.secret));
    // Each request verifies with exactly one endpoint's secret.
    expect(forSucceeded.length + forAll.length).toBe(6);
    expect(forSucceeded.map(shortType)).toEqual(['succeeded']);
    expect(forAll.map(shortType).sort()).toEqual(['accepted', 'dispatched', 'progress', 'requested', 'succeeded'].sort());
    // The first event's delivery is written by the trigger's single statement (id made by Postgres): a UUIDv7 as the others.
    const uuidv7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    for (const r of got) expect(deliveryIdOf(r)).toMatch(uuidv7);
    expect(forAll.find((r) => shortType(r) === 'requested')!.headers['synapse-event-seq']).toBe('1');
    // A tampered body or a wrong secret does not verify.
    const one = forSucceeded[0]!;
    expect(verifySignature(secret, { deliveryId: deliveryIdOf(one), timestamp: one.headers['synapse-timestamp'] as string, signature: one.headers['synapse-signature'] as string }, one.body.replace('true', 'false'), Date.now())).toEqual({ ok: false, reason: 'bad_signature' });
    expect(bySecret(one, everything.secret)).toBe(false);
    // The body is the stored EventEnvelope.
    expect(one.json).toMatchObject({ specversion: '1.0', type: 'aionix.openact.action.succeeded', runId, correlationId: command.id, data: { status: 'succeeded', output: { ok: true } } });
    expect(one.headers).toMatchObject({ 'content-type': 'application/json', 'synapse-delivery-attempt': '1', 'synapse-event-type': 'aionix.openact.action.succeeded' });
    const stored = (await deliveriesOf(onlySucceeded.webhook.id)).filter((d) => d.runId === runId);
    expect(stored).toEqual([expect.objectContaining({ id: deliveryIdOf(one), status: 'delivered', attempts: 1, lastStatus: 200, destination: 'webhook', eventType: 'aionix.openact.action.succeeded' })]);
    expect(one.headers['synapse-event-seq']).toBe(String(stored[0]!.eventSeq));
  });

  it('delivers each event of a burst stored as one batch once to each endpoint that takes it', async () => {
    const tag = `&t=${randomUUID()}`;
    const progressOnly = await createWebhook({ url: `${hooks.url}?progress${tag}`, eventTypes: ['progress'] });
    const everything = await createWebhook({ url: `${hooks.url}?all${tag}`, eventTypes: ['*'] });
    const { runId, command } = await trigger();
    await eventually(async () => ((await deliveriesOf(everything.webhook.id)).filter((d) => d.runId === runId).length >= 2 ? true : undefined), 10_000, 'requested and dispatched');
    const burst = 40;
    await sendWhileRunHeld(runId, () => Promise.all(Array.from({ length: burst }, (_, i) => axon.event(command, 'progress', { progress: i / burst }))));
    await eventually(() => hooks.forRun(runId, tag).length >= 2 * burst + 2, 15_000, `${2 * burst + 2} requests`);
    await sleep(300);
    const got = hooks.forRun(runId, tag);
    expect(got).toHaveLength(2 * burst + 2);
    expect(new Set(got.map(deliveryIdOf)).size).toBe(2 * burst + 2);
    const toProgress = got.filter((r) => r.path.includes('?progress'));
    expect(toProgress.map(shortType)).toEqual(Array(burst).fill('progress'));
    expect(new Set(toProgress.map((r) => r.headers['synapse-event-seq'])).size).toBe(burst);
    const toAll = got.filter((r) => r.path.includes('?all'));
    expect(toAll.map((r) => Number(r.headers['synapse-event-seq'])).sort((x, y) => x - y)).toEqual(Array.from({ length: burst + 2 }, (_, i) => i + 1));
    const stored = (await deliveriesOf(progressOnly.webhook.id)).filter((d) => d.runId === runId);
    expect(stored).toHaveLength(burst);
    expect(stored.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
  });
});

describe('retries', () => {
  it('retries a receiver that fails 3 times with growing backoff, then delivers once (attempts 1..4, one delivery id)', async () => {
    const deliveredBefore = await metric('delivered');
    const retriedBefore = await metric('retried');
    const tag = `?flaky=${randomUUID()}`;
    const hook = await createWebhook({ url: `${hooks.url}${tag}`, eventTypes: ['succeeded'] });
    let calls = 0;
    hooks.answer = ({ json }) => (String(json.type).endsWith('.succeeded') && ++calls <= 3 ? { status: 500 } : { status: 200 });
    const { runId, command } = await trigger();
    await axon.event(command, 'accepted');
    await axon.event(command, 'succeeded');
    await eventually(() => hooks.forRun(runId, tag).some((r) => r.status === 200), 10_000, 'a successful attempt');
    await sleep(600);
    const got = hooks.forRun(runId, tag);
    expect(got.map(attemptOf)).toEqual([1, 2, 3, 4]);
    expect(got.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(got.map(deliveryIdOf)).size).toBe(1);
    // Full jitter: the gap after failed attempt k is in [0, min(cap, base * 2^(k-1))], plus the time to
    // record the failure, claim the row and send again (generous: CI machines are busy).
    const slack = 2_500;
    const gaps = got.slice(1).map((r, i) => r.at - got[i]!.at);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(0);
      expect(gap).toBeLessThanOrEqual(Math.min(CAP_MS, BASE_MS * 2 ** i) + slack);
    });
    const [delivery] = (await deliveriesOf(hook.webhook.id)).filter((d) => d.runId === runId);
    expect(delivery).toMatchObject({ id: deliveryIdOf(got[0]!), status: 'delivered', attempts: 4, lastStatus: 200, lastError: null, nextAttemptAt: null });
    expect(await metric('delivered')).toBe(deliveredBefore + 1);
    expect(await metric('retried')).toBe(retriedBefore + 3);
  });

  it('honours Retry-After: a 503 with Retry-After: 1 is retried no sooner than 1 s later', async () => {
    const tag = `?busy=${randomUUID()}`;
    await createWebhook({ url: `${hooks.url}${tag}`, eventTypes: ['succeeded'] });
    let calls = 0;
    hooks.answer = ({ json }) => (String(json.type).endsWith('.succeeded') && ++calls === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 });
    const { runId, command } = await trigger();
    await axon.event(command, 'succeeded');
    await eventually(() => hooks.forRun(runId, tag).length >= 2, 10_000, 'the retry');
    const [first, second] = hooks.forRun(runId, tag);
    expect([first!.status, second!.status]).toEqual([503, 200]);
    const gap = second!.at - first!.at;
    // Without Retry-After the bound would be BASE_MS (50 ms).
    expect(gap).toBeGreaterThanOrEqual(990);
    // Its worker wakes for its own retry rather than waiting for the next 1 s poll; slack for busy machines.
    expect(gap).toBeLessThan(1_000 + 1_500);
  });

  it('dead-letters after the configured attempts; redelivery replays it once to a now-healthy receiver', async () => {
    const deadBefore = await metric('dead_lettered');
    const tag = `?down=${randomUUID()}`;
    const hook = await createWebhook({ url: `${hooks.url}${tag}`, eventTypes: ['succeeded'] });
    hooks.answer = ({ json }) => (String(json.type).endsWith('.succeeded') ? { status: 502 } : { status: 200 });
    const { runId, command } = await trigger();
    await axon.event(command, 'succeeded');
    const dead = await eventually(async () => (await deliveriesOf(hook.webhook.id, 'dead_lettered')).find((d) => d.runId === runId), 10_000, 'a dead letter');
    expect(dead).toMatchObject({ status: 'dead_lettered', attempts: MAX_ATTEMPTS, lastStatus: 502, lastError: 'HTTP 502: receiver says no', nextAttemptAt: null });
    await sleep(400);
    expect(hooks.forRun(runId, tag).map(attemptOf)).toEqual([1, 2, 3, 4]);
    expect(await metric('dead_lettered')).toBe(deadBefore + 1);

    hooks.answer = () => ({ status: 200 });
    const replay = await gw.gql<{ redeliverWebhookDelivery: Record<string, unknown> }>(REDELIVER, { id: dead.id });
    expect(replay.data!.redeliverWebhookDelivery).toMatchObject({ __typename: 'RedeliverWebhookDeliverySuccess', delivery: { id: dead.id, status: 'pending', attempts: 0 } });
    await eventually(() => hooks.forRun(runId, tag).length === 5, 10_000, 'the replay');
    await sleep(300);
    const got = hooks.forRun(runId, tag);
    expect(got).toHaveLength(5);
    expect(got.map(deliveryIdOf)).toEqual(Array(5).fill(dead.id));
    expect(attemptOf(got[4]!)).toBe(1);
    expect((await deliveriesOf(hook.webhook.id)).find((d) => d.id === dead.id)).toMatchObject({ status: 'delivered', attempts: 1, lastStatus: 200 });

    // Only dead-lettered or failed deliveries can be replayed.
    expect((await gw.gql<{ redeliverWebhookDelivery: unknown }>(REDELIVER, { id: dead.id })).data!.redeliverWebhookDelivery).toMatchObject({ __typename: 'ValidationError', code: 'not_redeliverable', field: 'id' });
    expect((await gw.gql<{ redeliverWebhookDelivery: unknown }>(REDELIVER, { id: randomUUID() })).data!.redeliverWebhookDelivery).toMatchObject({ __typename: 'NotFoundError', code: 'not_found' });
  });
});

describe('Stepflow', () => {
  function envelope(overrides: Record<string, unknown> = {}) {
    return {
      schemaVersion: '1.1.0',
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      command: 'aionix.openact.action.execute',
      source: 'trn:stepflow:default:engine',
      target: `trn:synapse:default:action/${serviceId}/work`,
      tenant: 'default',
      traceId: randomUUID().replaceAll('-', ''),
      parameters: { input: { to: 'ops@example.com' } },
      correlationId: 'wf-corr-1',
      ...overrides,
    };
  }

  async function execute(body: ReturnType<typeof envelope>): Promise<{ runId: string; command: Command }> {
    const res = await gw.rest('POST', `/actions/${encodeURIComponent(body.target)}/execute?wait=0`, body);
    expect(res.status).toBe(202);
    const runId = String(res.body.runId);
    const command = await eventually(() => axon.commands.find((c) => c.parameters.runId === runId), 10_000, 'command');
    return { runId, command };
  }

  it('posts the outcome of an envelope run to STEPFLOW_EVENTS_URL in the caller\'s terms, once', async () => {
    const body = envelope();
    const { runId, command } = await execute(body);
    await axon.event(command, 'accepted');
    await axon.event(command, 'succeeded', { output: { sent: 1 } });
    await eventually(() => stepflow.forRun(runId).length >= 1, 10_000, 'the Stepflow event');
    // A late terminal event adds nothing.
    await axon.event(command, 'succeeded', { output: { sent: 2 } });
    await sleep(500);
    const got = stepflow.forRun(runId);
    expect(got).toHaveLength(1);
    const event = got[0]!;
    expect(event.json).toMatchObject({
      specversion: '1.0',
      type: 'aionix.openact.action.succeeded',
      source: 'trn:synapse:default:gateway',
      datacontenttype: 'application/json',
      aionixSchemaVersion: '1.1.0',
      resourceTrn: body.target,
      correlationId: body.id,
      tenant: body.tenant,
      traceId: body.traceId,
      runId,
      data: { status: 'succeeded', output: { sent: 1 }, durationMs: expect.any(Number) },
    });
    expect(event.json.id).toEqual(expect.any(String));
    expect(event.headers['synapse-delivery-attempt']).toBe('1');
    const verified = verifySignature(STEPFLOW_SECRET, { deliveryId: deliveryIdOf(event), timestamp: event.headers['synapse-timestamp'] as string, signature: event.headers['synapse-signature'] as string }, event.body, Date.now());
    expect(verified).toEqual({ ok: true });
    const [delivery] = (await deliveriesOf(null)).filter((d) => d.runId === runId && d.destination === 'stepflow');
    expect(delivery).toMatchObject({ webhookId: null, status: 'delivered', eventType: 'aionix.openact.action.succeeded' });
  });

  it.each([
    { outcome: 'failed', type: 'failed', data: { error: { message: 'smtp down' } } },
    { outcome: 'cancelled', type: 'cancelled', data: {} },
    { outcome: 'rejected', type: 'failed', data: { error: { message: 'busy' } } },
  ])('maps $outcome to aionix.openact.action.$type with data.status = $outcome', async ({ outcome, type, data }) => {
    const body = envelope();
    const { runId, command } = await execute(body);
    await axon.event(command, outcome, data);
    const [event] = await eventually(() => (stepflow.forRun(runId).length ? stepflow.forRun(runId) : undefined), 10_000, 'the Stepflow event');
    expect(event!.json).toMatchObject({ type: `aionix.openact.action.${type}`, correlationId: body.id, resourceTrn: body.target, data: { status: outcome, ...data } });
  });

  it("delivers a batch that holds an envelope run's outcome once to Stepflow and once to each endpoint", async () => {
    const tag = `&t=${randomUUID()}`;
    await createWebhook({ url: `${hooks.url}?all${tag}`, eventTypes: ['*'] });
    const { runId, command } = await execute(envelope());
    await eventually(() => (hooks.forRun(runId, tag).length >= 2 ? true : undefined), 10_000, 'requested and dispatched');
    // The burst and the outcome are stored as one batch.
    const burst = 30;
    await sendWhileRunHeld(runId, () =>
      Promise.all([
        ...Array.from({ length: burst }, (_, i) => axon.event(command, 'progress', { progress: i / burst })),
        axon.event(command, 'succeeded', { output: { sent: 1 } }),
      ]),
    );
    await eventually(() => (stepflow.forRun(runId).length >= 1 && hooks.forRun(runId, tag).length >= burst + 3 ? true : undefined), 15_000, 'every request');
    await sleep(300);
    expect(stepflow.forRun(runId).map((r) => r.json.type)).toEqual(['aionix.openact.action.succeeded']);
    const got = hooks.forRun(runId, tag);
    expect(new Set(got.map(deliveryIdOf)).size).toBe(burst + 3);
    expect(got.map((r) => Number(r.headers['synapse-event-seq'])).sort((x, y) => x - y)).toEqual(Array.from({ length: burst + 3 }, (_, i) => i + 1));
  });

  it('is not told about runs that were not started by an envelope', async () => {
    const { runId, command } = await trigger();
    await axon.event(command, 'succeeded');
    await sleep(500);
    expect(stepflow.forRun(runId)).toEqual([]);
  });
});

// ---------------------------------------------------------------- several workers

/** Stores `runsCount` runs with two events each and enqueues their deliveries through the hook, in one transaction per run. */
async function seedDeliveries(db: Database, store: ReturnType<typeof createWebhookStore>, tenant: string, runsCount: number): Promise<number> {
  const traceId = randomUUID().replaceAll('-', '');
  for (let i = 0; i < runsCount; i++) {
    const runId = randomUUID();
    await db.transaction(async (tx: Tx) => {
      const [run] = await tx
        .insert(runs)
        .values({ id: runId, tenant, serviceId: 'seed', actionId: 'a', state: 'running', commandId: randomUUID(), traceId, origin: 'graphql', heartbeatTimeoutS: 30, statusTtlS: 600, nextSeq: 3 })
        .returning();
      for (const seq of [1, 2]) {
        const type = seq === 1 ? 'aionix.openact.action.requested' : 'aionix.openact.action.progress';
        const envelope = { specversion: '1.0', id: randomUUID(), source: `trn:synapse:${tenant}:gateway`, type, time: new Date().toISOString(), data: { status: 'x' }, tenant, traceId, runId, correlationId: run!.commandId, resourceTrn: `trn:synapse:${tenant}:action/seed/a`, aionixSchemaVersion: '1.1.0', datacontenttype: 'application/json' };
        const [event] = await tx.insert(runEvents).values({ runId, seq, tenant, source: envelope.source, eventId: envelope.id, type, time: new Date(), state: 'running', data: envelope.data, envelope }).returning();
        await store.onStoredInTx(tx, event!, run!);
      }
    });
  }
  return runsCount * 2;
}

/** Each (delivery id, attempt) once, attempts contiguous from 1, exactly one 2xx per delivery and nothing after it. */
function expectNoAttemptTwice(requests: Received[], expected: number) {
  const seen = new Map<string, number>();
  for (const r of requests) {
    const key = `${deliveryIdOf(r)}#${attemptOf(r)}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  expect([...seen.entries()].filter(([, n]) => n > 1)).toEqual([]);
  const byDelivery = new Map<string, Received[]>();
  for (const r of requests) byDelivery.set(deliveryIdOf(r), [...(byDelivery.get(deliveryIdOf(r)) ?? []), r]);
  expect(byDelivery.size).toBe(expected);
  for (const list of byDelivery.values()) {
    expect(list.map(attemptOf).sort((a, b) => a - b)).toEqual(list.map((_, i) => i + 1));
    expect(list.filter((r) => r.status === 200)).toHaveLength(1);
    expect(list.at(-1)!.status).toBe(200);
  }
}

/**
 * Fails 40 % of first and second attempts (so retries and attempt numbers > 1 occur, yet no
 * delivery needs more than 3 attempts: the test gateway's own worker allows 4). Answers after
 * `minDelayMs`..2×`minDelayMs`, so one worker could not drain the queue between two polls of another.
 */
const flaky = (minDelayMs: number) => ({ headers }: { headers: IncomingHttpHeaders }): Answer => ({
  status: Number(headers['synapse-delivery-attempt']) < 3 && Math.random() < 0.4 ? 500 : 200,
  delayMs: minDelayMs + Math.floor(Math.random() * minDelayMs),
});

/**
 * Each database mode registers the variant it can run honestly: two gateways
 * with their own pools on Postgres, several workers on one handle on PGlite.
 */
const variant = (postgres: boolean) => (postgres === usingPostgres() ? it : () => undefined);

describe('several workers on one database', () => {
  variant(true)('two gateways sharing one Postgres never send the same attempt twice (separate pools: real row locks)', async () => {
    const receiver = await startReceiver();
    receiver.answer = flaky(50);
    const database = await freshDatabase();
    const gateways: Gateway[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const parsed = parseConfig({
          PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: database.url!, SYNAPSE_DB_POOL_SIZE: '4', ...messagingEnv(),
          SYNAPSE_WEBHOOK_BASE_MS: '20', SYNAPSE_WEBHOOK_CAP_MS: '200', SYNAPSE_WEBHOOK_MAX_ATTEMPTS: '12', SYNAPSE_WEBHOOK_CONCURRENCY: '4', SYNAPSE_WEBHOOK_ALLOW_PRIVATE: 'true',
        });
        if (!parsed.ok) throw new Error(parsed.problems.join('; '));
        gateways.push(await startGateway(parsed.config, { logger: createLogger('warn', new Writable({ write: (_c, _e, done) => done() })) }));
      }
      const [a, b] = gateways as [Gateway, Gateway];
      const created = await (await fetch(`${a.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: CREATE, variables: { input: { url: receiver.url, eventTypes: ['*'] } } }) })).json() as { data: { createWebhook: { webhook: { id: string } } } };
      expect(created.data.createWebhook.webhook.id).toEqual(expect.any(String));
      const store = createWebhookStore({ db: a.database.db, logger: createLogger('silent'), newId: randomUUID, stepflowUrl: undefined, allowPrivate: true });
      const expected = await seedDeliveries(a.database.db, store, 'default', 60);
      await eventually(() => new Set(receiver.requests.filter((r) => r.status === 200).map(deliveryIdOf)).size === expected, 20_000, `${expected} deliveries`);
      await sleep(500);
      expectNoAttemptTwice(receiver.requests, expected);
      const delivered = await Promise.all([a.url, b.url].map((url) => metric('delivered', url)));
      expect(delivered[0]! + delivered[1]!).toBe(expected);
      // Both took part (each polls every second and keeps going while it has work).
      expect(delivered[0]).toBeGreaterThan(0);
      expect(delivered[1]).toBeGreaterThan(0);
    } finally {
      for (const g of gateways) await g.close();
      await database.drop();
      await receiver.close();
    }
  });

  variant(false)('three workers on one embedded database handle never send the same attempt twice (PGlite serialises their transactions: this proves the lease and the fencing, not row locks under concurrency)', async () => {
    // The test gateway's own worker plus two more on its handle (opening another PGlite costs seconds).
    const receiver = await startReceiver();
    receiver.answer = flaky(20);
    const db = gw.gateway.database.db;
    const silent = createLogger('silent');
    const tenant = 'workers';
    const store = createWebhookStore({ db, logger: silent, newId: randomUUID, stepflowUrl: undefined, allowPrivate: true });
    const created = await store.create(tenant, { url: receiver.url, eventTypes: ['*'] });
    expect(created.ok).toBe(true);
    const counts = { w1: 0, w2: 0 };
    const workers = (['w1', 'w2'] as const).map((owner) =>
      createWebhookWorker({
        db, logger: silent, owner, policy: { baseMs: 20, capMs: 200, maxAttempts: 12 }, timeoutMs: 2_000, concurrency: 4,
        stepflow: { url: undefined, secret: undefined }, allowPrivate: true, intervalMs: 100,
        onOutcome: (outcome) => {
          if (outcome === 'delivered') counts[owner] += 1;
        },
      }),
    );
    const gatewayBefore = await metric('delivered');
    try {
      for (const w of workers) w.start();
      const expected = await seedDeliveries(db, store, tenant, 40);
      await eventually(() => new Set(receiver.requests.filter((r) => r.status === 200).map(deliveryIdOf)).size === expected, 20_000, `${expected} deliveries`);
      await sleep(400);
      expectNoAttemptTwice(receiver.requests, expected);
      const byGateway = (await metric('delivered')) - gatewayBefore;
      expect(counts.w1 + counts.w2 + byGateway).toBe(expected);
      expect(counts.w1).toBeGreaterThan(0);
      expect(counts.w2).toBeGreaterThan(0);
    } finally {
      for (const w of workers) await w.stop();
      if (created.ok) await store.remove(tenant, created.value.webhook.id);
      await receiver.close();
    }
  });
});

describe('webhook endpoints reach public addresses only, by default', () => {
  it('refuses loopback, private and metadata addresses at creation, and a name that resolves to loopback at delivery', async () => {
    const guarded = await startTestGateway();
    const service = `wh-guard-${randomUUID().slice(0, 8)}`;
    const guardedAxon = await startTestAxon({ url: guarded.gateway.brokerUrl, prefix: guarded.prefix, serviceId: service, actions: ['work'], ttl: 300 });
    try {
      for (const url of [hooks.url, 'http://[::1]:9/x', 'http://10.0.0.1/x', 'http://169.254.169.254/latest/meta-data', 'http://[::ffff:127.0.0.1]/x']) {
        const res = await guarded.gql<{ createWebhook: { code?: string; message?: string } }>(CREATE, { input: { url, eventTypes: ['*'] } });
        expect(res.data?.createWebhook.code, url).toBe('invalid_url');
        expect(res.data?.createWebhook.message).toContain('SYNAPSE_WEBHOOK_ALLOW_PRIVATE');
      }
      // A name is checked where the connection resolves it: localhost's answer (loopback) is refused.
      const sneaky = hooks.url.replace('127.0.0.1', 'localhost');
      const created = await guarded.gql<{ createWebhook: { webhook?: { id: string } } }>(CREATE, { input: { url: sneaky, eventTypes: ['*'] } });
      const webhookId = created.data?.createWebhook.webhook?.id;
      expect(webhookId).toBeTruthy();
      const before = hooks.requests.length;
      await eventually(async () => (await guarded.gql<{ service: unknown }>(`query { service(id: "${service}") { id } }`)).data?.service, 10_000, 'service');
      await guarded.gql(TRIGGER, { input: { serviceId: service, actionId: 'work' } });
      const delivery = await eventually(async () => {
        const res = await guarded.gql<{ webhookDeliveries: Array<{ lastError: string | null; attempts: number }> }>('query ($id: ID) { webhookDeliveries(webhookId: $id) { lastError attempts } }', { id: webhookId });
        return res.data?.webhookDeliveries.find((d) => d.attempts > 0 && d.lastError);
      }, 10_000, 'a refused attempt');
      expect(delivery.lastError).toContain('private address');
      expect(hooks.requests.length).toBe(before);
    } finally {
      await guardedAxon.close();
      await guarded.close();
    }
  });
});
