/**
 * Benchmark: execution events (docs/benchmarks.md, "Events"), each figure
 * beside a baseline measured in the same run, against the embedded aedes
 * broker and against a private no-delay Mosquitto:
 *
 *  - Round trip: triggerAction (GraphQL over HTTP POST) → relay publishes the
 *    command → an echo Axon answers `succeeded` over MQTT → ingest commits it →
 *    the `runUpdated(serviceId)` subscription (graphql-ws) of a dashboard
 *    receives the succeeded run. Sequential runs (one at a time), p50/p99 of
 *    the time from sending the mutation to receiving the update. Floor: a bare
 *    node:http handler publishing the command with mqtt.js (PUBACK awaited),
 *    the same echo Axon, a postgres.js insert of the event and a `ws` push.
 *    A second gateway row subscribes `runEvents(runId)` right after each
 *    trigger answers (a run's detail page: replay, then live). Both sides'
 *    p50 is also split where the Axon sees a run (one machine's clock): the
 *    trigger leg (start → the Axon has the command) and the event leg (the
 *    Axon answers → the update arrives). A third side, the contract floor
 *    (contract-floor.ts), is the floor plus what the contracts require of any
 *    gateway on this stack: GraphQL over HTTP (Yoga), the run with its first
 *    event and its outbox row committed before publishing, every transition
 *    stored as an event, and graphql-ws; informational rows set the gateway
 *    beside it.
 *  - Fan-out: 1,000 graphql-ws subscribers of one run's `runEvents`, then the
 *    Axon sends 100 events (99 progress, 1 succeeded) over MQTT; delivered
 *    events/s from the burst's start to the last delivery, beside a bare `ws`
 *    server broadcasting the same 100 `next` frames (each stringified once) to
 *    1,000 plain sockets. Lost events (must be 0) and gateway RSS per
 *    subscriber (RSS after a GC, before and after the subscribers connect).
 *  - Ingest: events/s persisted from MQTT (an Axon publishes 20,000 progress
 *    events over 50 runs with QoS 1, as fast as the broker takes them; the
 *    clock stops when the gateway has committed the last) beside postgres.js
 *    inserting the first pass's stored rows, multi-row, 500 per statement,
 *    into a copy of run_events. Three passes of each, taken in turn, the
 *    medians compared; the gateway's first (cold) pass is printed too. A
 *    fourth gateway pass, informational, runs with a webhook endpoint taking
 *    the events (a receiver in this process): each event also enqueues a
 *    delivery, checked to be there once per event.
 *
 * The gateway runs in this process (with the floor and the bare `ws`
 * broadcaster, idle while the gateway is measured); the Axon and the clients
 * (HTTP, graphql-ws and plain ws) run in two child processes (this file, roles
 * `axon` and `clients`), so the gateway's RSS and event loop are its own.
 *
 * Real Postgres: a fresh database `synapse_bench_<random>` on the admin URL
 * BENCH_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres,
 * dropped at the end, also on failure and Ctrl-C. Progress on stderr, the
 * final table on stdout.
 *
 * Knobs (environment): BENCH_RUNS (2000), BENCH_SUBSCRIBERS (1000),
 * BENCH_FANOUT_EVENTS (100), BENCH_INGEST_EVENTS (20000), BENCH_BROKERS
 * (`embedded,mosquitto`), BENCH_LOG_LEVEL (info, to the null device).
 * SYNAPSE_* variables reach the gateway's configuration; the per-IP limits
 * (WebSocket connections, trigger rate) are raised by default here.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createClient, type Client } from 'graphql-ws';
import mqtt from 'mqtt';
import postgres from 'postgres';
import WebSocket, { WebSocketServer } from 'ws';
import { parseConfig, redactUrl } from '../src/config/config.js';
import { EVENT_INGEST_LIMITS } from '../src/events/ingest.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { type Command, eventEnvelope, startTestAxon, type TestAxon } from '../../test/helpers/axon.js';
import { type PrivateMosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { freePort } from '../../test/helpers/process.js';
import { createBenchDatabase, dropBenchDatabase, intFromEnv, listenOnLoopback, progress, runBench } from './common.js';
import { CONTRACT_RUN_UPDATED, CONTRACT_TRIGGER, type ContractFloor, startContractFloor } from './contract-floor.js';



const RUNS = intFromEnv('BENCH_RUNS', 2_000, 10, 100_000);
const WARMUP_RUNS = Math.min(200, Math.ceil(RUNS / 10));
const RUN_EVENTS_RUNS = Math.min(500, RUNS);
/** The Axon's stamps kept at most: every echo of a round-trip phase (the three sides, warm-up and runEvents runs included). */
const MAX_STAMPS = 3 * (WARMUP_RUNS + RUNS) + RUN_EVENTS_RUNS;
const SUBSCRIBERS = intFromEnv('BENCH_SUBSCRIBERS', 1_000, 1, 20_000);
const FANOUT_EVENTS = intFromEnv('BENCH_FANOUT_EVENTS', 100, 2, 900);
const INGEST_EVENTS = intFromEnv('BENCH_INGEST_EVENTS', 20_000, 100, 1_000_000);
const INGEST_RUNS = 50;
/** Ingest passes of each side, taken in turn; their medians are compared. */
const INGEST_PASSES = 3;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'info';
const BROKERS = (process.env.BENCH_BROKERS || 'embedded,mosquitto').split(',').map((b) => b.trim()) as Array<'embedded' | 'mosquitto'>;
for (const b of BROKERS) {
  if (b !== 'embedded' && b !== 'mosquitto') {
    process.stderr.write(`BENCH_BROKERS lists embedded and/or mosquitto (got ${JSON.stringify(b)})\n`);
    process.exit(2);
  }
}

/** Milliseconds on a clock shared by this process and its children. */
const clock = () => performance.timeOrigin + performance.now();

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** One request/reply at a time over a child's IPC channel. */
function ask<R>(child: ChildProcess, message: unknown): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child process exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (reply: { type?: string; error?: string }) => {
      child.off('exit', onExit);
      if (reply.type === 'error') reject(new Error(reply.error));
      else resolve(reply as R);
    });
    child.send(message as object);
  });
}

function serveChild(handle: (request: { type: string } & Record<string, unknown>) => Promise<unknown>): void {
  process.on('message', (request: { type: string } & Record<string, unknown>) => {
    handle(request).then(
      (reply) => process.send?.(reply ?? { type: 'ok' }),
      (error: unknown) => process.send?.({ type: 'error', error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  // The parent owns the lifetime: Ctrl-C reaches the whole group, the parent cleans up.
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

// ---------------------------------------------------------------------------
// Role `axon`: an echo Axon (test/helpers/axon.ts). `echo` commands are
// answered `succeeded` at once; `hold` commands wait for a burst or an ingest
// job. It answers the floors' commands (other topic prefixes) the same way.

function envelope(command: Command, serviceId: string, shortType: string, data: Record<string, unknown>): string {
  return JSON.stringify(eventEnvelope(command, serviceId, shortType, data));
}

/**
 * mqtt.js leaves Nagle's algorithm on: a PUBACK followed at once by a PUBLISH
 * (an echo) waits for the broker's delayed ACK, ~40 ms. Real Axons and the
 * floor use no-delay sockets, like the gateway's embedded broker and the
 * test Mosquitto (set_tcp_nodelay true).
 */
function noDelay(client: mqtt.MqttClient): void {
  const apply = () => (client.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  apply();
  client.on('connect', apply);
}

/** When the Axon received a run's command and when it published the answer (`clock`). */
interface AxonStamp {
  runId: string;
  received: number;
  answered: number;
}

function runAxonChild(): void {
  let axon: TestAxon | undefined;
  let serviceId = '';
  let eventTopic = '';
  const held = new Map<string, Command>();
  // Echo answers only (the round trip's): the legs of a round trip (roundTripLegs).
  let stamps: AxonStamp[] = [];
  const echo = (topic: string, command: Command) => {
    const received = clock();
    void axon!.client.publishAsync(topic, envelope(command, serviceId, 'succeeded', { output: { echo: command.parameters.input } }), { qos: 1 });
    if (stamps.length < MAX_STAMPS) stamps.push({ runId: command.parameters.runId, received, answered: clock() });
  };
  serveChild(async (request) => {
    if (request.type === 'start') {
      stamps = [];
      const prefix = request.prefix as string;
      const floorPrefixes = request.floorPrefixes as string[];
      serviceId = request.serviceId as string;
      eventTopic = `${prefix}/event/${serviceId}`;
      held.clear();
      axon = await startTestAxon({
        url: request.url as string,
        prefix,
        serviceId,
        actions: ['echo', 'hold'],
        ttl: 600,
        respond: (command) => {
          if (command.parameters.actionId === 'hold') held.set(command.parameters.runId, command);
          else echo(eventTopic, command);
        },
      });
      noDelay(axon.client);
      // Each floor's commands, answered on its own prefix.
      const floorEvents = new Map(floorPrefixes.map((p) => [`${p}/command/${serviceId}`, `${p}/event/${serviceId}`]));
      axon.client.on('message', (topic, payload) => {
        const events = floorEvents.get(topic);
        if (events === undefined) return;
        // Stamped once parsed, as the test Axon hands the gateway's commands to `respond`.
        echo(events, JSON.parse(payload.toString()) as Command);
      });
      await axon.client.subscribeAsync([...floorEvents.keys()], { qos: 1 });
      return { type: 'ready' };
    }
    if (request.type === 'held') return { type: 'held', runIds: [...held.keys()] };
    if (request.type === 'stamps') {
      const taken = stamps;
      stamps = [];
      return { type: 'stamps', stamps: taken };
    }
    if (request.type === 'burst') {
      // count − 1 progress events, then succeeded: published back to back (QoS 1, in order).
      const command = held.get(request.runId as string);
      if (!command) throw new Error(`no held command for run ${String(request.runId)}`);
      const count = request.count as number;
      const sends: Array<Promise<unknown>> = [];
      for (let i = 1; i < count; i++) sends.push(axon!.client.publishAsync(eventTopic, envelope(command, serviceId, 'progress', { progress: i / count, message: `step ${i}` }), { qos: 1 }));
      sends.push(axon!.client.publishAsync(eventTopic, envelope(command, serviceId, 'succeeded', { output: { steps: count } }), { qos: 1 }));
      await Promise.all(sends);
      return { type: 'sent' };
    }
    if (request.type === 'ingest') {
      // Progress events round-robin over the held runs, as fast as the broker acknowledges them.
      const commands = (request.runIds as string[]).map((id) => held.get(id)!);
      const total = request.total as number;
      const window = 2_000;
      let next = 0;
      const worker = async () => {
        while (next < total) {
          const i = next++;
          const command = commands[i % commands.length]!;
          await axon!.client.publishAsync(eventTopic, envelope(command, serviceId, 'progress', { progress: (i % 100) / 100, message: `line ${i}` }), { qos: 1 });
        }
      };
      await Promise.all(Array.from({ length: window }, worker));
      return { type: 'sent' };
    }
    if (request.type === 'stop') {
      await axon?.close();
      axon = undefined;
      return { type: 'stopped' };
    }
    throw new Error(`unknown request ${request.type}`);
  });
}

// ---------------------------------------------------------------------------
// Role `clients`: the dashboard side. Round trips over HTTP + graphql-ws (and
// the floor's HTTP + ws), then many graphql-ws / plain ws subscribers.

const TRIGGER = `mutation BenchEcho($input: TriggerActionInput!) {
  triggerAction(input: $input) { __typename ... on TriggerPayload { run { id state } } ... on Error { code message } }
}`;
const RUN_UPDATED = `subscription BenchRunUpdated($serviceId: String) { runUpdated(serviceId: $serviceId) { id state updatedAt output } }`;
const RUN_EVENTS = `subscription BenchRunEvents($runId: ID!) { runEvents(runId: $runId) { seq id type time state reason data } }`;

interface RoundTripJob {
  type: 'roundtrip';
  gatewayUrl: string;
  floorUrl: string;
  contractUrl: string;
  serviceId: string;
  runs: number;
  warmup: number;
  runEventsRuns: number;
}
export interface RoundTripResult {
  type: 'roundtrip';
  gateway: number[];
  floor: number[];
  contract: number[];
  runEvents: number[];
  /** Each measured run's id, start and arrival (`clock`), to split it at the Axon (roundTripLegs). */
  gatewayRuns: RunTimes[];
  floorRuns: RunTimes[];
  contractRuns: RunTimes[];
}

export interface RunTimes {
  runId: string;
  started: number;
  arrived: number;
}

function graphqlWs(httpUrl: string): Client {
  return createClient({ url: `${httpUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

/** Arrival times keyed by run id, matched with whoever waits for them (an arrival may precede the wait). */
function arrivals() {
  const seen = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  return {
    arrived(id: string, at: number) {
      const w = waiting.get(id);
      if (w) {
        waiting.delete(id);
        w(at);
      } else seen.set(id, at);
    },
    wait(id: string, timeoutMs = 10_000): Promise<number> {
      const at = seen.get(id);
      if (at !== undefined) {
        seen.delete(id);
        return Promise.resolve(at);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`run ${id}: no succeeded update within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
    },
  };
}

/** A graphql-ws client subscribed to `runUpdated(serviceId)`: each `succeeded` run's arrival. */
async function runUpdatedArrivals(httpUrl: string, query: string, serviceId: string) {
  const client = graphqlWs(httpUrl);
  const runs = arrivals();
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => (subscribed = r));
  const stop = client.subscribe(
    { query, variables: { serviceId } },
    {
      next: (value) => {
        const run = (value.data as { runUpdated?: { id: string; state: string } } | undefined)?.runUpdated;
        if (run?.state === 'succeeded') runs.arrived(run.id, performance.now());
      },
      error: (error) => progress(`runUpdated subscription failed: ${JSON.stringify(error).slice(0, 300)}`),
      complete: () => {},
    },
  );
  client.on('connected', () => setTimeout(subscribed, 50));
  await ready;
  return { client, runs, stop };
}

async function roundTrips(job: RoundTripJob): Promise<RoundTripResult> {
  const { client, runs: gatewayArrivals, stop } = await runUpdatedArrivals(job.gatewayUrl, RUN_UPDATED, job.serviceId);
  const contract = await runUpdatedArrivals(job.contractUrl, CONTRACT_RUN_UPDATED, job.serviceId);

  const floorArrivals = arrivals();
  const floorSocket = new WebSocket(`${job.floorUrl.replace(/^http/, 'ws')}/ws`);
  floorSocket.on('message', (data) => {
    const at = performance.now();
    floorArrivals.arrived((JSON.parse(data.toString()) as { runId: string }).runId, at);
  });
  await once(floorSocket, 'open');

  const gatewayRuns: RunTimes[] = [];
  const floorRuns: RunTimes[] = [];
  const contractRuns: RunTimes[] = [];
  const times = (into: RunTimes[], runId: string, started: number, arrived: number): number => {
    // On `clock`, as the Axon's stamps.
    into.push({ runId, started: performance.timeOrigin + started, arrived: performance.timeOrigin + arrived });
    return arrived - started;
  };
  const gatewayOnce = async (n: number, into: RunTimes[] = gatewayRuns): Promise<number> => {
    const started = performance.now();
    const json = await postJson(`${job.gatewayUrl}/graphql`, { query: TRIGGER, variables: { input: { serviceId: job.serviceId, actionId: 'echo', input: { n } } }, operationName: 'BenchEcho' });
    const payload = (json.data as { triggerAction?: { __typename: string; run?: { id: string } } } | undefined)?.triggerAction;
    if (!payload?.run) throw new Error(`triggerAction failed: ${JSON.stringify(json).slice(0, 300)}`);
    return times(into, payload.run.id, started, await gatewayArrivals.wait(payload.run.id));
  };
  const floorOnce = async (n: number, into: RunTimes[] = floorRuns): Promise<number> => {
    const runId = randomUUID();
    const started = performance.now();
    await postJson(`${job.floorUrl}/trigger`, { serviceId: job.serviceId, runId, input: { n } });
    return times(into, runId, started, await floorArrivals.wait(runId));
  };
  const contractOnce = async (n: number, into: RunTimes[] = contractRuns): Promise<number> => {
    const started = performance.now();
    const json = await postJson(`${job.contractUrl}/graphql`, { query: CONTRACT_TRIGGER, variables: { input: { serviceId: job.serviceId, actionId: 'echo', input: { n } } }, operationName: 'BenchEcho' });
    const runId = (json.data as { triggerAction?: { run?: { id: string } } } | undefined)?.triggerAction?.run?.id;
    if (!runId) throw new Error(`contract floor: triggerAction failed: ${JSON.stringify(json).slice(0, 300)}`);
    return times(into, runId, started, await contract.runs.wait(runId));
  };
  const runEventsOnce = async (n: number): Promise<number> => {
    const started = performance.now();
    const json = await postJson(`${job.gatewayUrl}/graphql`, { query: TRIGGER, variables: { input: { serviceId: job.serviceId, actionId: 'echo', input: { n } } }, operationName: 'BenchEcho' });
    const runId = (json.data as { triggerAction: { run: { id: string } } }).triggerAction.run.id;
    return new Promise<number>((resolve, reject) => {
      let at: number | undefined;
      const timer = setTimeout(() => reject(new Error(`runEvents of ${runId}: no succeeded event within 10 s`)), 10_000);
      client.subscribe(
        { query: RUN_EVENTS, variables: { runId } },
        {
          next: (value) => {
            const event = (value.data as { runEvents?: { state: string; type: string } } | undefined)?.runEvents;
            if (event?.state === 'succeeded' && event.type.endsWith('.succeeded')) at ??= performance.now();
          },
          error: (error) => reject(new Error(JSON.stringify(error).slice(0, 300))),
          complete: () => {
            clearTimeout(timer);
            if (at === undefined) reject(new Error(`runEvents of ${runId} completed without a succeeded event`));
            else resolve(at - started);
          },
        },
      );
    });
  };

  // Warm-up, then alternating blocks so drift (autovacuum, JIT, GC) hits every side alike.
  for (let i = 0; i < job.warmup; i++) {
    await gatewayOnce(i, []);
    await floorOnce(i, []);
    await contractOnce(i, []);
  }
  const gateway: number[] = [];
  const floor: number[] = [];
  const contractTimes: number[] = [];
  const block = 100;
  for (let done = 0; done < job.runs; done += block) {
    const n = Math.min(block, job.runs - done);
    for (let i = 0; i < n; i++) gateway.push(await gatewayOnce(done + i));
    for (let i = 0; i < n; i++) floor.push(await floorOnce(done + i));
    for (let i = 0; i < n; i++) contractTimes.push(await contractOnce(done + i));
  }
  const runEvents: number[] = [];
  for (let i = 0; i < job.runEventsRuns; i++) runEvents.push(await runEventsOnce(i));
  stop();
  contract.stop();
  await Promise.all([client.dispose(), contract.client.dispose()]);
  floorSocket.close();
  return { type: 'roundtrip', gateway, floor, contract: contractTimes, runEvents, gatewayRuns, floorRuns, contractRuns };
}

interface FanoutState {
  clients: Client[];
  delivered: number[];
  lastSeq: number[];
  outOfOrder: number;
  completed: number;
  errors: string[];
  firstAt: number;
  lastAt: number;
  sample: unknown;
  onDelivery?: () => void;
}
let fan: FanoutState | undefined;
let plain: { sockets: WebSocket[]; received: number; firstAt: number; lastAt: number; onDelivery?: () => void } | undefined;

async function inBatches(count: number, width: number, start: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await start(next++);
    }),
  );
}

/** Subscribes `count` graphql-ws clients (one socket each) to a run's events; resolves once each replayed `replayed` events. */
async function fanoutConnect(url: string, runId: string, count: number, replayed: number): Promise<void> {
  const state: FanoutState = { clients: [], delivered: [], lastSeq: [], outOfOrder: 0, completed: 0, errors: [], firstAt: 0, lastAt: 0, sample: null };
  fan = state;
  await inBatches(count, 50, async (i) => {
    const client = graphqlWs(url);
    state.clients.push(client);
    state.delivered[i] = 0;
    state.lastSeq[i] = 0;
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: RUN_EVENTS, variables: { runId } },
        {
          next: (value) => {
            const event = (value.data as { runEvents?: { seq: number } } | undefined)?.runEvents;
            if (!event) {
              state.errors.push(JSON.stringify(value.errors ?? value).slice(0, 300));
              return;
            }
            if (event.seq !== state.lastSeq[i]! + 1) state.outOfOrder++;
            state.lastSeq[i] = event.seq;
            if (event.seq <= replayed) {
              if (event.seq === replayed) resolve();
              return;
            }
            const at = clock();
            if (state.firstAt === 0) state.firstAt = at;
            state.lastAt = at;
            state.delivered[i]!++;
            if (state.sample === null) state.sample = value.data;
            state.onDelivery?.();
          },
          error: (error) => {
            state.errors.push(error instanceof Error ? error.message : JSON.stringify(error).slice(0, 300));
            reject(new Error(`subscriber ${i}: ${state.errors.at(-1)}`));
          },
          complete: () => {
            state.completed++;
            state.onDelivery?.();
          },
        },
      );
    });
  });
}

async function fanoutWait(expected: number, timeoutMs: number) {
  const state = fan!;
  const total = () => state.delivered.reduce((a, b) => a + b, 0);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    state.onDelivery = () => {
      if (state.completed >= state.clients.length && total() >= expected) {
        clearTimeout(timer);
        resolve();
      }
    };
    state.onDelivery();
  });
  state.onDelivery = undefined;
  return {
    type: 'fanout',
    delivered: total(),
    perSubscriberMin: Math.min(...state.delivered),
    outOfOrder: state.outOfOrder,
    completed: state.completed,
    errors: state.errors.slice(0, 5),
    firstAt: state.firstAt,
    lastAt: state.lastAt,
    sample: state.sample,
  };
}

async function plainConnect(url: string, count: number): Promise<void> {
  const state: NonNullable<typeof plain> = { sockets: [], received: 0, firstAt: 0, lastAt: 0 };
  plain = state;
  await inBatches(count, 50, async () => {
    const socket = new WebSocket(url);
    state.sockets.push(socket);
    socket.on('message', (data: Buffer) => {
      // Parsed, as the graphql-ws client parses each frame.
      JSON.parse(data.toString());
      const at = clock();
      if (state.firstAt === 0) state.firstAt = at;
      state.lastAt = at;
      state.received++;
      state.onDelivery?.();
    });
    await once(socket, 'open');
  });
}

async function plainWait(expected: number, timeoutMs: number) {
  const state = plain!;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    state.onDelivery = () => {
      if (state.received >= expected) {
        clearTimeout(timer);
        resolve();
      }
    };
    state.onDelivery();
  });
  state.onDelivery = undefined;
  return { type: 'plain', received: state.received, firstAt: state.firstAt, lastAt: state.lastAt };
}

function runClientsChild(): void {
  serveChild(async (request) => {
    switch (request.type) {
      case 'roundtrip':
        return roundTrips(request as unknown as RoundTripJob);
      case 'fanout-connect':
        await fanoutConnect(request.url as string, request.runId as string, request.count as number, request.replayed as number);
        return { type: 'connected', errors: fan!.errors.length };
      case 'fanout-wait':
        return fanoutWait(request.expected as number, request.timeoutMs as number);
      case 'fanout-close':
        await Promise.all(fan?.clients.map((c) => c.dispose()) ?? []);
        fan = undefined;
        return { type: 'closed' };
      case 'plain-connect':
        await plainConnect(request.url as string, request.count as number);
        return { type: 'connected' };
      case 'plain-wait':
        return plainWait(request.expected as number, request.timeoutMs as number);
      case 'plain-close':
        for (const s of plain?.sockets ?? []) s.close();
        plain = undefined;
        return { type: 'closed' };
      default:
        throw new Error(`unknown request ${request.type}`);
    }
  });
}

const CREATE_WEBHOOK = `mutation C($input: CreateWebhookInput!) { createWebhook(input: $input) {
  __typename ... on CreateWebhookPayload { webhook { id } } ... on Error { code message } } }`;

/** A webhook receiver in this process that answers every POST 200, counting them. */
async function startHookReceiver(): Promise<{ url: string; received(): number; close(): Promise<void> }> {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return {
    url: `${await listenOnLoopback(server)}/hook`,
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------
// Baselines served from this process: the round-trip floor and the bare ws broadcaster.

interface Floor {
  url: string;
  close(): Promise<void>;
}

/**
 * The round trip's floor: POST /trigger publishes a command (QoS 1, PUBACK
 * awaited) and answers; the Axon's event is inserted with postgres.js and
 * pushed to every `ws` client on /ws.
 */
async function startFloor(brokerUrl: string, dbUrl: string, prefix: string): Promise<Floor> {
  const sql = postgres(dbUrl, { max: 4, onnotice: () => {}, connection: { application_name: 'synapse-bench-floor' } });
  await sql`create table if not exists bench_floor_events (id bigserial primary key, run_id text not null, event_id text not null, type text not null, data jsonb, envelope jsonb not null, received_at timestamptz not null default now())`;
  const client = await mqtt.connectAsync(brokerUrl, { clientId: `synapse-bench-floor-${randomBytes(4).toString('hex')}`, clean: true, protocolVersion: 4 });
  noDelay(client);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { serviceId: string; runId: string; input: unknown };
      const command = {
        id: randomUUID(),
        traceId: randomBytes(16).toString('hex'),
        tenant: 'default',
        target: `trn:synapse:default:service/${body.serviceId}:action/echo`,
        parameters: { runId: body.runId, actionId: 'echo', input: body.input, serviceId: body.serviceId },
      };
      client.publishAsync(`${prefix}/command/${body.serviceId}`, JSON.stringify(command), { qos: 1 }).then(
        () => {
          const text = JSON.stringify({ runId: body.runId, commandId: command.id });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        },
      );
    });
  });
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  client.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString()) as { id: string; type: string; runId: string; data: unknown };
    sql`insert into bench_floor_events (run_id, event_id, type, data, envelope) values (${event.runId}, ${event.id}, ${event.type}, ${sql.json(event.data as never)}, ${sql.json(event as never)})`.then(
      () => {
        const text = JSON.stringify({ runId: event.runId, type: event.type, data: event.data });
        for (const socket of wss.clients) socket.send(text);
      },
      (error: unknown) => progress(`floor insert failed: ${String(error)}`),
    );
  });
  await client.subscribeAsync(`${prefix}/event/+`, { qos: 1 });
  return {
    url: await listenOnLoopback(server),
    async close() {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
      await client.endAsync();
      await sql`drop table if exists bench_floor_events`;
      await sql.end({ timeout: 5 });
    },
  };
}

// ---------------------------------------------------------------------------
// The parent: lifecycle. Everything started is stopped by cleanup(), once.

const state: {
  adminUrl?: string;
  dbName?: string;
  gateway?: Gateway;
  mosquitto?: PrivateMosquitto;
  floor?: Floor;
  contractFloor?: ContractFloor;
  broadcaster?: { wss: WebSocketServer; server: Server };
  children: ChildProcess[];
} = { children: [] };

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
      } catch (error) {
        progress(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    for (const child of state.children) if (child.exitCode === null) await step('stopping a child process', () => child.kill());
    if (state.floor) await step('stopping the floor', () => state.floor!.close());
    if (state.contractFloor) await step('stopping the contract floor', () => state.contractFloor!.close());
    if (state.broadcaster) await step('stopping the broadcaster', () => closeBroadcaster(state.broadcaster!));
    if (state.gateway) await step('stopping the gateway', () => state.gateway!.close());
    if (state.mosquitto) await step('stopping Mosquitto', () => state.mosquitto!.close());
    if (state.dbName && state.adminUrl) {
      const name = state.dbName;
      await step(`dropping database ${name}`, async () => {
        await dropBenchDatabase(state.adminUrl!, name);
        progress(`dropped database ${name}`);
      });
    }
  })();
  return cleaning;
}

async function closeBroadcaster(b: { wss: WebSocketServer; server: Server }): Promise<void> {
  for (const socket of b.wss.clients) socket.terminate();
  b.wss.close();
  await new Promise<void>((r) => b.server.close(() => r()));
}

/** Forks this file (under tsx, like the parent: fork() reuses execArgv) in a role. */
async function startChild(role: string): Promise<ChildProcess> {
  const child = fork(new URL(import.meta.url), [role], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  state.children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the ${role} child process exited (${code}) before it was ready`)));
  });
  return child;
}

async function gql<T>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  const json = (await res.json()) as { data?: T; errors?: unknown };
  if (!json.data) throw new Error(`GraphQL answered ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 400)}`);
  return json.data;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().rss;
}

interface PhaseResult {
  broker: string;
  roundTripMs: number | null;
  rt: {
    gatewayP50: number;
    gatewayP99: number;
    floorP50: number;
    floorP99: number;
    contractP50: number;
    contractP99: number;
    runEventsP50: number;
    runEventsP99: number;
    runs: number;
    legs: Record<'gateway' | 'floor' | 'contract', ReturnType<typeof roundTripLegs>>;
  };
  fan: {
    gatewayRate: number;
    gatewayMs: number;
    delivered: number;
    expected: number;
    lost: number;
    outOfOrder: number;
    wsRate: number;
    wsMs: number;
    wsReceived: number;
    rssBefore: number;
    rssAfter: number;
    rssPerSubscriber: number;
  };
  ingest: { events: number; ms: number; rate: number; firstPassRate: number; webhookRate: number; baselineRows: number; baselineMs: number; baselineRate: number };
}

async function runPhase(broker: 'embedded' | 'mosquitto', ctx: { dbUrl: string; axon: ChildProcess; clients: ChildProcess }): Promise<PhaseResult> {
  const label = broker === 'embedded' ? 'embedded aedes' : 'mosquitto';
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (/^SYNAPSE_/.test(key)) env[key] = value;
  const prefix = `synapse-bench-${randomBytes(4).toString('hex')}/v1`;
  // The fan-out opens 1,000 sockets and triggers from one loopback address: the per-IP limits are raised here.
  env.SYNAPSE_WS_MAX_CONNECTIONS_PER_IP ??= '100000';
  env.SYNAPSE_TRIGGER_RATE_PER_IP ??= '0';
  env.SYNAPSE_TRIGGER_RATE_PER_KEY ??= '0';
  // The ingest's webhook pass delivers to a receiver on loopback.
  env.SYNAPSE_WEBHOOK_ALLOW_PRIVATE ??= 'true';
  Object.assign(env, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL, MQTT_TOPIC_PREFIX: prefix, SYNAPSE_GRAPHIQL: 'false', DATABASE_URL: ctx.dbUrl });
  if (broker === 'mosquitto') {
    state.mosquitto = await startMosquitto();
    env.MQTT_URL = state.mosquitto.url;
    progress(`${label}: private Mosquitto on ${state.mosquitto.url}`);
  } else {
    env.MQTT_PORT = String(await freePort());
  }
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(`invalid gateway configuration: ${parsed.problems.join('; ')}`);
  const config = parsed.config;
  let roundTripMs: number | null = null;
  const fd = openSync(process.env.BENCH_LOG_FILE || os.devNull, 'w');
  let logOpen = true;
  const logger = createLogger(config.LOG_LEVEL, {
    write(line: string) {
      // A closing MQTT client may still log after the gateway closed.
      if (!logOpen) return;
      writeSync(fd, line);
      if (line.includes('roundTripMs')) roundTripMs = (JSON.parse(line) as { roundTripMs: number }).roundTripMs;
    },
  });
  const gateway = await startGateway(config, { logger, onProgress: (m) => progress(`${label}: gateway: ${m}`) });
  state.gateway = gateway;
  progress(`${label}: gateway on ${gateway.url}, broker ${gateway.brokerUrl}, start-up QoS 1 round trip ${roundTripMs ?? '?'} ms`);

  const serviceId = `bench-${randomBytes(4).toString('hex')}`;
  const floorPrefix = `synapse-bench-floor-${randomBytes(4).toString('hex')}`;
  const contractPrefix = `synapse-bench-contract-${randomBytes(4).toString('hex')}`;
  await ask(ctx.axon, { type: 'start', url: gateway.brokerUrl, prefix, floorPrefixes: [floorPrefix, contractPrefix], serviceId });
  await waitFor(`service ${serviceId} online`, 10_000, async () => {
    const data = await gql<{ service: { status: string } | null }>(gateway.url, 'query S($id: ID!) { service(id: $id) { status } }', { id: serviceId });
    return data.service?.status === 'online';
  });
  const floor = await startFloor(gateway.brokerUrl, ctx.dbUrl, floorPrefix);
  state.floor = floor;
  const contractFloor = await startContractFloor(gateway.brokerUrl, ctx.dbUrl, contractPrefix, noDelay);
  state.contractFloor = contractFloor;

  // --- Round trip ---------------------------------------------------------
  progress(`${label}: round trip: ${WARMUP_RUNS} warm-up runs each, then ${RUNS} sequential runs gateway/floor/contract floor in alternating blocks of 100, then ${RUN_EVENTS_RUNS} runEvents runs`);
  const rtStarted = performance.now();
  const rtResult = await ask<RoundTripResult>(ctx.clients, {
    type: 'roundtrip',
    gatewayUrl: gateway.url,
    floorUrl: floor.url,
    contractUrl: contractFloor.url,
    serviceId,
    runs: RUNS,
    warmup: WARMUP_RUNS,
    runEventsRuns: RUN_EVENTS_RUNS,
  } satisfies RoundTripJob);
  const { stamps } = await ask<{ stamps: AxonStamp[] }>(ctx.axon, { type: 'stamps' });
  const stampOf = new Map(stamps.map((s) => [s.runId, s]));
  const rt = {
    legs: {
      gateway: roundTripLegs(rtResult.gatewayRuns, stampOf),
      floor: roundTripLegs(rtResult.floorRuns, stampOf),
      contract: roundTripLegs(rtResult.contractRuns, stampOf),
    },
    gatewayP50: percentile(rtResult.gateway, 50),
    gatewayP99: percentile(rtResult.gateway, 99),
    floorP50: percentile(rtResult.floor, 50),
    floorP99: percentile(rtResult.floor, 99),
    contractP50: percentile(rtResult.contract, 50),
    contractP99: percentile(rtResult.contract, 99),
    runEventsP50: percentile(rtResult.runEvents, 50),
    runEventsP99: percentile(rtResult.runEvents, 99),
    runs: rtResult.gateway.length,
  };
  progress(
    `${label}: round trip in ${((performance.now() - rtStarted) / 1000).toFixed(1)} s: gateway p50 ${rt.gatewayP50.toFixed(2)} ms p99 ${rt.gatewayP99.toFixed(2)} ms; ` +
      `floor p50 ${rt.floorP50.toFixed(2)} ms p99 ${rt.floorP99.toFixed(2)} ms; contract floor p50 ${rt.contractP50.toFixed(2)} ms p99 ${rt.contractP99.toFixed(2)} ms; runEvents p50 ${rt.runEventsP50.toFixed(2)} ms p99 ${rt.runEventsP99.toFixed(2)} ms`,
  );
  await floor.close();
  state.floor = undefined;
  const checked = await contractFloor.verify();
  progress(`${label}: contract floor: ${checked.runs} runs, each succeeded with its three events and its command marked sent`);
  await contractFloor.close();
  state.contractFloor = undefined;

  // --- Fan-out ------------------------------------------------------------
  const hold = await gql<{ triggerAction: { run?: { id: string } } }>(gateway.url, TRIGGER, { input: { serviceId, actionId: 'hold', input: {} } });
  const runId = hold.triggerAction.run!.id;
  await waitFor('the held run to be dispatched', 10_000, async () => {
    const data = await gql<{ run: { state: string } }>(gateway.url, 'query R($id: ID!) { run(id: $id) { state } }', { id: runId });
    return data.run.state === 'dispatched';
  });
  const rssBefore = await settledRss();
  progress(`${label}: fan-out: connecting ${SUBSCRIBERS} graphql-ws subscribers to runEvents of ${runId} (gateway RSS ${(rssBefore / 2 ** 20).toFixed(1)} MiB)`);
  const connected = await ask<{ errors: number }>(ctx.clients, { type: 'fanout-connect', url: gateway.url, runId, count: SUBSCRIBERS, replayed: 2 });
  if (connected.errors) throw new Error(`${connected.errors} subscriber errors while connecting`);
  const rssAfter = await settledRss();
  progress(`${label}: fan-out: ${SUBSCRIBERS} subscribed and replayed; gateway RSS ${(rssAfter / 2 ** 20).toFixed(1)} MiB; sending ${FANOUT_EVENTS} events`);
  const expected = SUBSCRIBERS * FANOUT_EVENTS;
  const fanWait = ask<{ delivered: number; perSubscriberMin: number; outOfOrder: number; completed: number; errors: string[]; lastAt: number; sample: unknown }>(ctx.clients, {
    type: 'fanout-wait',
    expected,
    timeoutMs: 60_000,
  });
  const fanStart = clock();
  await ask(ctx.axon, { type: 'burst', runId, count: FANOUT_EVENTS });
  const fanResult = await fanWait;
  const gatewayMs = fanResult.lastAt - fanStart;
  if (fanResult.errors.length) progress(`${label}: fan-out errors: ${fanResult.errors.join(' | ')}`);
  progress(
    `${label}: fan-out: ${fanResult.delivered} of ${expected} delivered in ${gatewayMs.toFixed(0)} ms (${((fanResult.delivered / gatewayMs) * 1000).toFixed(0)}/s), ` +
      `${fanResult.completed} completed, ${fanResult.outOfOrder} out of order, fewest per subscriber ${fanResult.perSubscriberMin}`,
  );
  await ask(ctx.clients, { type: 'fanout-close' });

  // The bare ws broadcast of the same `next` frames, each stringified once.
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  state.broadcaster = { wss, server };
  const broadcastUrl = await listenOnLoopback(server);
  await ask(ctx.clients, { type: 'plain-connect', url: broadcastUrl.replace(/^http/, 'ws'), count: SUBSCRIBERS });
  const sample = (fanResult.sample ?? { runEvents: {} }) as { runEvents: Record<string, unknown> };
  const frames = Array.from({ length: FANOUT_EVENTS }, (_, i) => ({ id: randomUUID(), type: 'next', payload: { data: { runEvents: { ...sample.runEvents, seq: 3 + i } } } }));
  const plainWait = ask<{ received: number; lastAt: number }>(ctx.clients, { type: 'plain-wait', expected, timeoutMs: 60_000 });
  const wsStart = clock();
  for (const frame of frames) {
    const text = JSON.stringify(frame);
    for (const socket of wss.clients) socket.send(text);
  }
  const plainResult = await plainWait;
  const wsMs = plainResult.lastAt - wsStart;
  progress(`${label}: bare ws broadcast: ${plainResult.received} of ${expected} in ${wsMs.toFixed(0)} ms (${((plainResult.received / wsMs) * 1000).toFixed(0)}/s)`);
  await ask(ctx.clients, { type: 'plain-close' });
  await closeBroadcaster(state.broadcaster);
  state.broadcaster = undefined;

  // --- Ingest -------------------------------------------------------------
  const ingestRuns: string[] = [];
  for (let i = 0; i < INGEST_RUNS; i++) {
    const data = await gql<{ triggerAction: { run?: { id: string } } }>(gateway.url, TRIGGER, { input: { serviceId, actionId: 'hold', input: { i } } });
    ingestRuns.push(data.triggerAction.run!.id);
  }
  await waitFor('the ingest runs to reach the Axon', 10_000, async () => {
    const held = await ask<{ runIds: string[] }>(ctx.axon, { type: 'held' });
    return ingestRuns.every((id) => held.runIds.includes(id));
  });
  const sql = postgres(ctx.dbUrl, { max: 1, onnotice: () => {} });
  await waitFor('the ingest runs to be dispatched', 10_000, async () => {
    const [row] = await sql<{ n: string }[]>`select count(*) as n from runs where id = any(${ingestRuns}) and state = 'dispatched'`;
    return Number(row!.n) === INGEST_RUNS;
  });
  const stored = gateway.metrics.registry.getSingleMetric('synapse_events_stored_total') as unknown as { get(): Promise<{ values: Array<{ value: number }> }> };
  const storedCount = async () => (await stored.get()).values[0]?.value ?? 0;
  // Three gateway passes over the same runs and three baseline passes, taken
  // in turn (gateway, baseline, gateway, …) so that the machine's drift
  // reaches both sides alike; the median of each side is compared. The first
  // gateway pass also pays for compiling the batch path (the round trips
  // before it ran only the one-statement path for small batches): printed too.
  const ingestPasses: number[] = [];
  /** One pass of the gateway's ingest: its ms. */
  const gatewayPass = async (pass: number | 'webhook'): Promise<number> => {
    const before = await storedCount();
    const name = pass === 'webhook' ? 'ingest pass with a webhook endpoint' : `ingest pass ${pass} of ${INGEST_PASSES}`;
    progress(`${label}: ${name}: ${INGEST_EVENTS} progress events over ${INGEST_RUNS} runs, QoS 1, one Axon connection`);
    const ingestStart = clock();
    const sending = ask(ctx.axon, { type: 'ingest', runIds: ingestRuns, total: INGEST_EVENTS });
    let ingestEnd = 0;
    await waitFor('the gateway to store every ingest event', 120_000, async () => {
      if ((await storedCount()) - before >= INGEST_EVENTS) ingestEnd = clock();
      return ingestEnd > 0;
    });
    await sending;
    progress(`${label}: ${name}: ${INGEST_EVENTS} stored in ${(ingestEnd - ingestStart).toFixed(0)} ms (${((INGEST_EVENTS / (ingestEnd - ingestStart)) * 1000).toFixed(0)}/s)`);
    return ingestEnd - ingestStart;
  };

  // Baseline: the first pass's stored rows, multi-row inserts with postgres.js
  // of as many rows as an ingest batch on Postgres, into an emptied copy of
  // run_events (one pass lasts under a second; single passes varied from
  // 20,000 to 37,000 rows/s here).
  ingestPasses.push(await gatewayPass(1));
  const columns = ['run_id', 'seq', 'tenant', 'source', 'event_id', 'type', 'time', 'state', 'reason', 'data', 'envelope', 'received_at'];
  const rows = await sql`select run_id, seq, tenant, source, event_id, type, time, state, reason, data, envelope, received_at
    from run_events where run_id = any(${ingestRuns}) and type = 'aionix.openact.action.progress' order by id`;
  await sql`create table bench_ingest (like run_events including all)`;
  const batch = EVENT_INGEST_LIMITS.maxBatchPostgres;
  const passes: number[] = [];
  const baselinePass = async (pass: number) => {
    await sql`truncate bench_ingest`;
    const baselineStart = performance.now();
    for (let i = 0; i < rows.length; i += batch) {
      const chunk = rows.slice(i, i + batch).map((r) => ({ ...r, data: sql.json(r.data as never), envelope: sql.json(r.envelope as never) }));
      await sql`insert into bench_ingest ${sql(chunk as never, columns as never)}`;
    }
    passes.push(performance.now() - baselineStart);
    const [copied] = await sql<{ n: string }[]>`select count(*) as n from bench_ingest`;
    if (Number(copied!.n) !== rows.length) throw new Error(`${label}: baseline pass ${pass} copied ${copied!.n} of ${rows.length} rows`);
    progress(`${label}: ingest baseline pass ${pass} of ${INGEST_PASSES}: ${rows.length} rows in ${passes.at(-1)!.toFixed(0)} ms (${((rows.length / passes.at(-1)!) * 1000).toFixed(0)}/s)`);
  };
  await baselinePass(1);
  for (let pass = 2; pass <= INGEST_PASSES; pass++) {
    ingestPasses.push(await gatewayPass(pass));
    await baselinePass(pass);
  }
  await sql`drop table bench_ingest`;
  const ingestMs = percentile(ingestPasses, 50);
  const baselineMs = percentile(passes, 50);

  // One more pass, informational: the tenant has a webhook endpoint taking
  // progress events (a local receiver answering 200), so each event also
  // enqueues a delivery in its batch, and the worker delivers meanwhile.
  const receiver = await startHookReceiver();
  const webhook = await gql<{ createWebhook: { webhook?: { id: string }; code?: string; message?: string } }>(gateway.url, CREATE_WEBHOOK, {
    input: { url: receiver.url, eventTypes: ['progress'] },
  });
  if (!webhook.createWebhook.webhook) throw new Error(`${label}: creating the benchmark's webhook endpoint failed: ${JSON.stringify(webhook.createWebhook)}`);
  const webhookMs = await gatewayPass('webhook');
  const [enqueued] = await sql<{ n: string; events: string }[]>`select count(*) as n, count(distinct run_event_id) as events from webhook_deliveries where webhook_id = ${webhook.createWebhook.webhook.id}`;
  if (Number(enqueued!.n) !== INGEST_EVENTS || Number(enqueued!.events) !== INGEST_EVENTS) {
    throw new Error(`${label}: ${enqueued!.n} deliveries for ${enqueued!.events} events enqueued, expected one for each of ${INGEST_EVENTS}`);
  }
  await gql(gateway.url, `mutation D($id: ID!) { deleteWebhook(id: $id) { __typename } }`, { id: webhook.createWebhook.webhook.id });
  progress(`${label}: ingest with a webhook endpoint: ${INGEST_EVENTS} deliveries enqueued, one per event; ${receiver.received()} delivered during the pass and after it until now`);
  await receiver.close();

  const [row] = await sql<{ n: string }[]>`select count(*) as n from run_events where run_id = any(${ingestRuns}) and type = 'aionix.openact.action.progress'`;
  const persisted = Number(row!.n);
  const expectedEvents = (INGEST_PASSES + 1) * INGEST_EVENTS;
  if (persisted !== expectedEvents) throw new Error(`${label}: ${persisted} ingest events in run_events, expected ${expectedEvents}`);
  // Each run's log is gap-free (seq 1..n) and its next_seq follows it.
  const [gaps] = await sql<{ n: string }[]>`select count(*) as n from runs r
    where r.id = any(${ingestRuns}) and (r.next_seq - 1 <> (select count(*) from run_events e where e.run_id = r.id) or r.next_seq - 1 <> (select max(seq) from run_events e where e.run_id = r.id) or r.state <> 'running')`;
  if (Number(gaps!.n) !== 0) throw new Error(`${label}: ${gaps!.n} ingest runs whose next_seq, log or state is inconsistent`);
  await sql.end({ timeout: 5 });
  progress(`${label}: ingest: ${persisted} stored, each once, logs gap-free; median pass ${ingestMs.toFixed(0)} ms (${((INGEST_EVENTS / ingestMs) * 1000).toFixed(0)}/s), baseline ${baselineMs.toFixed(0)} ms (${((rows.length / baselineMs) * 1000).toFixed(0)}/s)`);

  await ask(ctx.axon, { type: 'stop' });
  await gateway.close();
  state.gateway = undefined;
  logOpen = false;
  closeSync(fd);
  if (state.mosquitto) {
    await state.mosquitto.close();
    state.mosquitto = undefined;
  }
  const truncate = postgres(ctx.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await truncate`truncate runs, run_events, outbox, idempotency_keys, services, webhook_deliveries, webhook_endpoints`;
  } finally {
    await truncate.end({ timeout: 5 });
  }

  return {
    broker: label,
    roundTripMs,
    rt,
    fan: {
      gatewayRate: (fanResult.delivered / gatewayMs) * 1000,
      gatewayMs,
      delivered: fanResult.delivered,
      expected,
      lost: expected - fanResult.delivered,
      outOfOrder: fanResult.outOfOrder,
      wsRate: (plainResult.received / wsMs) * 1000,
      wsMs,
      wsReceived: plainResult.received,
      rssBefore,
      rssAfter,
      rssPerSubscriber: (rssAfter - rssBefore) / SUBSCRIBERS,
    },
    ingest: { events: INGEST_EVENTS, ms: ingestMs, rate: (INGEST_EVENTS / ingestMs) * 1000, firstPassRate: (INGEST_EVENTS / ingestPasses[0]!) * 1000, webhookRate: (INGEST_EVENTS / webhookMs) * 1000, baselineRows: rows.length, baselineMs, baselineRate: (rows.length / baselineMs) * 1000 },
  };
}

/**
 * A round trip split where the Axon saw it (clocks of one machine): the
 * trigger leg, from the request's start until the Axon has the command, and
 * the event leg, from the Axon's answer until the update arrives. p50 of each.
 */
function roundTripLegs(runs: RunTimes[], stampOf: ReadonlyMap<string, AxonStamp>): { trigger: number; event: number; matched: number } {
  const trigger: number[] = [];
  const event: number[] = [];
  for (const run of runs) {
    const stamp = stampOf.get(run.runId);
    if (!stamp) continue;
    trigger.push(stamp.received - run.started);
    event.push(run.arrived - stamp.answered);
  }
  return { trigger: percentile(trigger, 50), event: percentile(event, 50), matched: trigger.length };
}

function commandLine(): string {
  const vars = Object.keys(process.env)
    .filter((k) => /^(BENCH_|SYNAPSE_)/.test(k) && !/URL|PASSWORD|TOKEN|USERNAME/.test(k))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...vars, 'npm run bench:events'].join(' ');
}

function table(results: PhaseResult[], serverVersion: string): string {
  const cpus = os.cpus();
  const f = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const row = (cells: string[]) => cells[0]!.padEnd(16) + cells[1]!.padEnd(42) + cells[2]!.padStart(11) + cells[3]!.padStart(11) + cells[4]!.padStart(8) + '  ' + cells[5]!;
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT MET');
  const lines = [
    '',
    'Events benchmark: round trip, fan-out and ingest, each beside its baseline',
    `command:  ${commandLine()}`,
    `machine:  node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Postgres ${serverVersion}`,
    `setup:    gateway in this process (log level ${LOG_LEVEL} to the null device); Axon and clients in two child processes; round trip: runUpdated(serviceId) over graphql-ws, ${RUNS} sequential runs (concurrency 1)`,
  ];
  for (const r of results) {
    const ft = r.fan;
    const rtRatio = r.rt.gatewayP50 / r.rt.floorP50;
    const fanRatio = ft.gatewayRate / ft.wsRate;
    const ingestRatio = r.ingest.rate / r.ingest.baselineRate;
    lines.push(
      '',
      `${r.broker} (start-up QoS 1 round trip ${r.roundTripMs ?? '?'} ms)`,
      row(['part', 'figure', 'gateway', 'baseline', 'ratio', 'target']),
      row(['round trip', 'p50 ms, trigger → runUpdated succeeded', f(r.rt.gatewayP50, 2), f(r.rt.floorP50, 2), f(rtRatio, 2), `ratio ≤ 2.5: ${mark(rtRatio <= 2.5)}`]),
      row(['', 'p99 ms', f(r.rt.gatewayP99, 2), f(r.rt.floorP99, 2), f(r.rt.gatewayP99 / r.rt.floorP99, 2), `< 20 ms: ${mark(r.rt.gatewayP99 < 20)}`]),
      row(['', 'p50 ms, trigger leg: start → Axon has it', f(r.rt.legs.gateway.trigger, 2), f(r.rt.legs.floor.trigger, 2), f(r.rt.legs.gateway.trigger / r.rt.legs.floor.trigger, 2), 'informational']),
      row(['', 'p50 ms, event leg: Axon answers → update', f(r.rt.legs.gateway.event, 2), f(r.rt.legs.floor.event, 2), f(r.rt.legs.gateway.event / r.rt.legs.floor.event, 2), `informational (${r.rt.legs.gateway.matched}/${r.rt.legs.floor.matched} runs matched)`]),
      row(['', 'p50 ms, contract floor (see docs) ÷ floor', f(r.rt.contractP50, 2), f(r.rt.floorP50, 2), f(r.rt.contractP50 / r.rt.floorP50, 2), `informational (p99 ${f(r.rt.contractP99, 2)} ms)`]),
      row(['', 'p50 ms, gateway ÷ contract floor', f(r.rt.gatewayP50, 2), f(r.rt.contractP50, 2), f(r.rt.gatewayP50 / r.rt.contractP50, 2), 'informational']),
      row(['', 'p50 ms, contract floor legs: trigger / event', `${f(r.rt.legs.contract.trigger, 2)}/${f(r.rt.legs.contract.event, 2)}`, '', '', `informational (${r.rt.legs.contract.matched} runs matched)`]),
      row(['', `p50 / p99 ms, runEvents per run (${RUN_EVENTS_RUNS} runs)`, `${f(r.rt.runEventsP50, 2)}/${f(r.rt.runEventsP99, 1)}`, '', '', 'informational']),
      row(['fan-out', `events/s, ${SUBSCRIBERS} subscribers × ${FANOUT_EVENTS} events`, f(ft.gatewayRate, 0), f(ft.wsRate, 0), f(fanRatio, 2), `ratio ≥ 0.3: ${mark(fanRatio >= 0.3)}`]),
      row(['', 'ms to deliver all', f(ft.gatewayMs, 0), f(ft.wsMs, 0), '', '']),
      row(['', 'lost events', String(ft.lost), String(ft.expected - ft.wsReceived), '', `0: ${mark(ft.lost === 0 && ft.outOfOrder === 0)}${ft.outOfOrder ? ` (${ft.outOfOrder} out of order)` : ''}`]),
      row(['', 'gateway RSS KiB per subscriber', f(ft.rssPerSubscriber / 1024, 1), '', '', `≤ 64 KiB: ${mark(ft.rssPerSubscriber <= 64 * 1024)} (${f(ft.rssBefore / 2 ** 20, 0)} → ${f(ft.rssAfter / 2 ** 20, 0)} MiB)`]),
      row(['ingest', `events/s persisted (${INGEST_PASSES} passes of ${r.ingest.events} events)`, f(r.ingest.rate, 0), f(r.ingest.baselineRate, 0), f(ingestRatio, 2), `ratio ≥ 0.5: ${mark(ingestRatio >= 0.5)}`]),
      row(['', 'first pass events/s', f(r.ingest.firstPassRate, 0), '', f(r.ingest.firstPassRate / r.ingest.baselineRate, 2), 'informational']),
      row(['', 'events/s, a webhook endpoint taking them (1 pass)', f(r.ingest.webhookRate, 0), '', f(r.ingest.webhookRate / r.ingest.baselineRate, 2), 'informational (a delivery enqueued per event)']),
      row(['', `both sides: the median of ${INGEST_PASSES} passes, taken in turn`, '', '', '', '']),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { dbName, dbUrl, serverVersion } = await createBenchDatabase('bench:events', (adminUrl, name) => {
    state.adminUrl = adminUrl;
    state.dbName = name;
  });
  progress(`created database ${dbName} (Postgres ${serverVersion})`);

  const [axon, clients] = await Promise.all([startChild('axon'), startChild('clients')]);
  const results: PhaseResult[] = [];
  for (const broker of BROKERS) results.push(await runPhase(broker, { dbUrl: dbUrl.toString(), axon, clients }));
  process.stdout.write(table(results, serverVersion));
}

// ---------------------------------------------------------------------------

const role = process.argv[2];
if (role === 'axon') runAxonChild();
else if (role === 'clients') runClientsChild();
else runBench('bench:events', main, cleanup);
