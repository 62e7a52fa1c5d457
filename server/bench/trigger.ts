/**
 * Benchmark: `triggerAction` end to end (GraphQL over HTTP POST → run, event
 * and outbox row committed → relay publishes the command with QoS 1 → an Axon
 * receives it) against a baseline doing the bare minimum of the same work: one
 * single-row postgres.js insert plus one raw mqtt.js QoS 1 publish (PUBACK
 * awaited) per operation, on the same broker and database.
 *
 * Run with `npm run bench:trigger` (docs/benchmarks.md, "Triggers"). It:
 *  1. creates a fresh database `synapse_bench_<random>` on a real Postgres
 *     (BENCH_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
 *     and drops it at the end, also on failure and Ctrl-C;
 *  2. for each broker, (a) the gateway's embedded aedes on a free port and
 *     (b) a private Mosquitto from test/fixtures/mosquitto.test.conf on a free
 *     port, starts the real gateway in this process with `startGateway`;
 *  3. starts an Axon in a child process (this file, role `axon`): a plain
 *     mqtt.js client with a persistent session that announces a v1 snapshot
 *     and only counts the commands (and distinct command ids) it receives;
 *  4. loads `triggerAction` with autocannon in another child process
 *     (server/bench/load.ts, shared with bench:registry): first 1 client
 *     (unloaded latency), then BENCH_CLIENTS clients for a warm-up and the
 *     measured BENCH_DURATION_S seconds;
 *  5. waits for the outbox to drain and fails (exit 1) unless the commands the
 *     Axon received equal the runs in the database (`select count(*) from runs`),
 *     their distinct ids and the runs in `dispatched`;
 *  6. runs the baseline in a third child process (this file, role `baseline`)
 *     with as many operations as the gateway's measured window completed and
 *     the same concurrency; ratio = gateway triggers/s ÷ baseline ops/s;
 *  7. optionally (BENCH_PGLITE=1, the default) repeats 2-5 with the embedded
 *     database (PGlite on disk) and the embedded broker: no baseline there.
 *
 * The gateway runs in this process; the load generator, the Axon and the
 * baseline each run in a child process so none of them shares the gateway's
 * event loop (on a 2-core machine they still share the CPUs, as do Postgres
 * and the broker).
 *
 * Alongside rates and latencies it reports the CPU each process used per
 * operation during each measured window (Linux /proc), which stays comparable
 * when other processes load the machine, and the broker's QoS 1 round trip
 * (the gateway's start-up probe and 20 publishes from a fresh client).
 *
 * Progress goes to stderr; the final tables go to stdout.
 *
 * Knobs (environment): BENCH_CLIENTS (32), BENCH_DURATION_S (10),
 * BENCH_WARMUP_S (2), BENCH_PROBE_S (3; the 1-client latency run, 0 skips it),
 * BENCH_PGLITE (1), BENCH_BROKERS (embedded,mosquitto: the Postgres phases),
 * BENCH_LOG_LEVEL (info: the product default, written to the
 * null device; `silent` turns logging off), BENCH_CPU_PROFILE (a directory: a
 * V8 CPU profile of this process over each measured window). SYNAPSE_* variables
 * reach the gateway's configuration, e.g. SYNAPSE_DB_POOL_SIZE or
 * SYNAPSE_GRAPHQL_JIT=false; SYNAPSE_HEARTBEAT_TIMEOUT_S defaults to 3600 here
 * because the Axon never answers (the sweeper would end early runs mid-run),
 * and the trigger rate limits (SYNAPSE_TRIGGER_RATE_PER_IP/_PER_KEY) to 0 (off).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql as dsql } from 'drizzle-orm';
import mqtt from 'mqtt';
import type { DestinationStream } from 'pino';
import postgres from 'postgres';
import { parseConfig, redactUrl } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import type { LoadJob, LoadReply, LoadResult } from './load.js';
import { type PrivateMosquitto, startMosquitto } from '../../test/helpers/mosquitto.js';
import { freePort } from '../../test/helpers/process.js';
import { createBenchDatabase, dropBenchDatabase, intFromEnv, progress, runBench } from './common.js';

const ACTION_ID = 'restart';



function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

// ---------------------------------------------------------------------------
// Messages between this process and its children (role `axon`, role `baseline`).

interface AxonStart {
  type: 'start';
  url: string;
  prefix: string;
  serviceId: string;
  /** The baseline's topic: the Axon subscribes to it too, so baseline publishes are delivered like commands. */
  baselineTopic: string;
}
interface AxonCounts {
  type: 'counts';
  commands: number;
  distinctCommands: number;
  baseline: number;
  distinctBaseline: number;
  /** The first command received, as published: the baseline publishes payloads of this shape and size. */
  sample: string | null;
  /** From the command's `timestamp` (set when the trigger was handled) to its arrival, in ms. */
  deliveryP50Ms: number;
  deliveryP99Ms: number;
}
type AxonRequest = AxonStart | { type: 'counts' } | { type: 'stop' };
type AxonReply = { type: 'ready' } | AxonCounts | { type: 'stopped' } | { type: 'error'; error: string };

interface BaselineOpen {
  type: 'open';
  brokerUrl: string;
  dbUrl: string;
  topic: string;
  /** A command envelope as the gateway published it; `id` is replaced per operation. */
  sample: string;
  poolSize: number;
}
interface BaselineRun {
  type: 'run';
  ops: number;
  concurrency: number;
}
type BaselineRequest = BaselineOpen | BaselineRun | { type: 'close' };
interface BaselineResult {
  ops: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}
type BaselineReply = { type: 'done'; result: BaselineResult | null } | { type: 'error'; error: string };

/** One request/reply at a time over a child's IPC channel. */
function ask<R>(child: ChildProcess, message: unknown): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    if (!child.connected) return reject(new Error('child process is gone'));
    const onExit = (code: number | null) => reject(new Error(`child process exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (reply: R) => {
      child.off('exit', onExit);
      resolve(reply);
    });
    child.send(message as object, (error) => {
      if (error) {
        child.off('exit', onExit);
        reject(error);
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Role `axon`: counts commands; nothing else (no events back).

function runAxonChild(): void {
  let client: mqtt.MqttClient | undefined;
  let commandTopic = '';
  let baselineTopic = '';
  let commands = 0;
  let baseline = 0;
  const commandIds = new Set<string>();
  const baselineIds = new Set<string>();
  let sample: string | null = null;
  let delays: number[] = [];
  const reply = (message: AxonReply) => process.send?.(message);

  process.on('message', (request: AxonRequest) => {
    void (async () => {
      try {
        if (request.type === 'start') {
          commands = 0;
          baseline = 0;
          commandIds.clear();
          baselineIds.clear();
          sample = null;
          delays = [];
          commandTopic = `${request.prefix}/command/${request.serviceId}`;
          baselineTopic = request.baselineTopic;
          client = await mqtt.connectAsync(request.url, {
            clientId: request.serviceId.slice(0, 64),
            clean: false,
            reconnectPeriod: 100,
            protocolVersion: 4,
          });
          client.on('message', (topic, payload) => {
            const { id, timestamp } = JSON.parse(payload.toString()) as { id: string; timestamp?: string };
            if (topic === commandTopic) {
              commands++;
              commandIds.add(id);
              if (timestamp) delays.push(Date.now() - Date.parse(timestamp));
              sample ??= payload.toString();
            } else if (topic === baselineTopic) {
              baseline++;
              baselineIds.add(id);
            }
          });
          await client.subscribeAsync([commandTopic, baselineTopic], { qos: 1 });
          const snapshot = {
            api_version: 'v1',
            id: request.serviceId,
            name: `Bench ${request.serviceId}`,
            status: 'online',
            ttl: 600,
            layout: { type: 'sections', root: [{ type: 'section', title: 'Actions', children: ['controls'] }] },
            components: { controls: { id: 'controls', type: 'action_group', items: [{ action_id: ACTION_ID, label: ACTION_ID }] } },
          };
          await client.publishAsync(`${request.prefix}/discovery/${request.serviceId}`, JSON.stringify(snapshot), { qos: 1 });
          reply({ type: 'ready' });
        } else if (request.type === 'counts') {
          const sorted = Float64Array.from(delays).sort();
          reply({
            type: 'counts',
            commands,
            distinctCommands: commandIds.size,
            baseline,
            distinctBaseline: baselineIds.size,
            sample,
            deliveryP50Ms: percentile(sorted, 50),
            deliveryP99Ms: percentile(sorted, 99),
          });
        } else {
          await client?.endAsync();
          reply({ type: 'stopped' });
        }
      } catch (error) {
        reply({ type: 'error', error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

// ---------------------------------------------------------------------------
// Role `baseline`: per operation one insert (autocommit) and one QoS 1 publish.

function runBaselineChild(): void {
  let open: { sql: postgres.Sql; client: mqtt.MqttClient; topic: string; template: Record<string, unknown> } | undefined;

  async function run(job: BaselineRun): Promise<BaselineResult> {
    const { sql, client, topic, template } = open!;
    const latencies = new Float64Array(job.ops);
    let next = 0;
    const worker = async () => {
      while (next < job.ops) {
        const i = next++;
        const started = performance.now();
        const id = randomUUID();
        const payload = JSON.stringify({ ...template, id });
        await sql`insert into bench_baseline (command_id, topic, payload) values (${id}, ${topic}, ${payload}::jsonb)`;
        await client.publishAsync(topic, payload, { qos: 1 });
        latencies[i] = performance.now() - started;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: job.concurrency }, worker));
    const durationS = (performance.now() - started) / 1000;
    const sorted = latencies.sort();
    return { ops: job.ops, durationS, rps: job.ops / durationS, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }

  async function handle(request: BaselineRequest): Promise<BaselineResult | null> {
    if (request.type === 'open') {
      // The same pool size as the gateway's; one MQTT connection, as the gateway publishes on one.
      const sql = postgres(request.dbUrl, { max: request.poolSize, onnotice: () => {}, connection: { application_name: 'synapse-bench-baseline' } });
      const client = await mqtt.connectAsync(request.brokerUrl, {
        clientId: `synapse-bench-baseline-${randomBytes(4).toString('hex')}`,
        clean: false,
        reconnectPeriod: 0,
        protocolVersion: 4,
      });
      open = { sql, client, topic: request.topic, template: JSON.parse(request.sample) as Record<string, unknown> };
      return null;
    }
    if (request.type === 'run') return run(request);
    if (open) {
      await open.client.endAsync();
      await open.sql.end({ timeout: 5 });
      open = undefined;
    }
    return null;
  }

  process.on('message', (request: BaselineRequest) => {
    handle(request).then(
      (result) => process.send?.({ type: 'done', result } satisfies BaselineReply),
      (error: unknown) => process.send?.({ type: 'error', error: error instanceof Error ? error.message : String(error) } satisfies BaselineReply),
    );
  });
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}

// ---------------------------------------------------------------------------
// CPU accounting (Linux /proc): what each process of the benchmark used during
// a measured window, so results on a busy or shared machine can be read as CPU
// per operation rather than only as wall-clock rates.

const TICKS_PER_S = 100;

/** User + system CPU seconds of a process, or null (no /proc, or the process is gone). */
async function processCpuS(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine. */
async function machineCpuS(): Promise<{ busy: number; total: number } | null> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (total - idle) / TICKS_PER_S, total: total / TICKS_PER_S };
  } catch {
    return null;
  }
}

interface CpuPids {
  /** Child processes by role (load generator, Axon, baseline, Mosquitto). */
  children: Record<string, number | undefined>;
  /** Backends of the benchmark's database. */
  postgres: () => Promise<number[]>;
}

interface CpuSample {
  self: NodeJS.CpuUsage;
  children: Record<string, number | null>;
  postgres: Map<number, number>;
  machine: { busy: number; total: number } | null;
}

async function sampleCpu(pids: CpuPids): Promise<CpuSample> {
  const children: Record<string, number | null> = {};
  for (const [role, pid] of Object.entries(pids.children)) children[role] = await processCpuS(pid);
  const postgresCpu = new Map<number, number>();
  for (const pid of await pids.postgres().catch(() => [] as number[])) {
    const cpu = await processCpuS(pid);
    if (cpu !== null) postgresCpu.set(pid, cpu);
  }
  return { self: process.cpuUsage(), children, postgres: postgresCpu, machine: await machineCpuS() };
}

/** CPU seconds per component between two samples; `gateway` is this process (with the embedded broker in it). */
interface CpuUse {
  components: Record<string, number | null>;
  /** Busy share of all CPUs (0..1) and the part of it this benchmark's processes account for. */
  machineBusy: number | null;
  ours: number;
  wallS: number;
}

function describeCpu(use: CpuUse, ops: number): string {
  const parts = Object.entries(use.components).map(([k, v]) => `${k} ${v === null ? '-' : ((v * 1000) / ops).toFixed(2)}`);
  return `${parts.join(', ')}; total ${((use.ours * 1000) / ops).toFixed(2)}; all CPUs ${use.machineBusy === null ? '?' : Math.round(use.machineBusy * 100)}% busy`;
}

function cpuBetween(a: CpuSample, b: CpuSample, wallS: number, gatewayRole: string | null): CpuUse {
  const components: Record<string, number | null> = {};
  if (gatewayRole) components[gatewayRole] = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  for (const [role, end] of Object.entries(b.children)) {
    const start = a.children[role];
    components[role] = end === null || start === null || start === undefined ? null : end - start;
  }
  let pg = 0;
  for (const [pid, end] of b.postgres) pg += end - (a.postgres.get(pid) ?? 0);
  components.postgres = b.postgres.size > 0 ? pg : null;
  const ours = Object.values(components).reduce<number>((sum, v) => sum + (v ?? 0), 0);
  const machineBusy = a.machine && b.machine ? (b.machine.busy - a.machine.busy) / Math.max(1e-9, b.machine.total - a.machine.total) : null;
  return { components, machineBusy, ours, wallS };
}

// ---------------------------------------------------------------------------
// The parent: lifecycle. Everything started is stopped by cleanup(), once.

const state: {
  adminUrl?: string;
  dbName?: string;
  gateway?: Gateway;
  mosquitto?: PrivateMosquitto;
  monitor?: postgres.Sql;
  children: ChildProcess[];
  tmpDirs: string[];
} = { children: [], tmpDirs: [] };

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
    if (state.gateway) {
      const gateway = state.gateway;
      await step('stopping the gateway', () =>
        Promise.race([gateway.close(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 20 s; going on')), 20_000).unref())]),
      );
    }
    if (state.mosquitto) await step('stopping Mosquitto', () => state.mosquitto!.close());
    if (state.monitor) await step('closing the monitoring connection', () => state.monitor!.end({ timeout: 5 }));
    for (const dir of state.tmpDirs) await step(`removing ${dir}`, () => rm(dir, { recursive: true, force: true }));
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

/** Forks this file (under tsx, like the parent: fork() reuses execArgv) in a role, or load.ts. */
async function startChild(module: URL, args: string[]): Promise<ChildProcess> {
  const child = fork(module, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  state.children.push(child);
  // Failures reach the caller through ask(); a closed channel during cleanup is expected.
  child.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`a child process (${args[0] ?? 'load generator'}) exited (${code}) before it was ready`)));
  });
  return child;
}

// ---------------------------------------------------------------------------

const TRIGGER = `mutation BenchTrigger($input: TriggerActionInput!) {
  triggerAction(input: $input) {
    __typename
    ... on TriggerPayload { replayed run { id state commandId } }
    ... on Error { code message }
  }
}`;

const triggerBody = (serviceId: string) =>
  JSON.stringify({ query: TRIGGER, variables: { input: { serviceId, actionId: ACTION_ID, input: { reason: 'bench', force: false } } }, operationName: 'BenchTrigger' });

async function gql<T>(url: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  const json = (await res.json()) as { data?: T; errors?: unknown };
  if (!json.data) throw new Error(`GraphQL answered ${res.status}: ${JSON.stringify(json.errors ?? json).slice(0, 400)}`);
  return json.data;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A pino destination that discards every line after looking for the start-up round trip. */
function discardingDestination(onRoundTrip: (ms: number, slow: boolean) => void): { destination: DestinationStream; close(): void } {
  const fd = openSync(os.devNull, 'w');
  let open = true;
  return {
    destination: {
      write(line: string) {
        // A closing MQTT client may still log after the gateway closed.
        if (!open) return;
        // The same write per line as the product's stdout logger, to the null device.
        writeSync(fd, line);
        if (line.includes('roundTripMs')) {
          const parsed = JSON.parse(line) as { roundTripMs: number; level: number };
          onRoundTrip(parsed.roundTripMs, parsed.level >= 40);
        }
      },
    },
    close: () => {
      open = false;
      closeSync(fd);
    },
  };
}

/** Sequential QoS 1 publishes (PUBACK awaited) from a new client: the first (cold) and the median. */
async function probeRoundTrips(url: string, topic: string, count: number): Promise<{ first: number; median: number; count: number }> {
  const client = await mqtt.connectAsync(url, { clientId: `synapse-bench-rtt-${randomBytes(4).toString('hex')}`, clean: true, reconnectPeriod: 0, protocolVersion: 4 });
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await client.publishAsync(topic, 'ping', { qos: 1 });
      times.push(performance.now() - started);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return { first: times[0]!, median: sorted[Math.floor(sorted.length / 2)]!, count };
  } finally {
    await client.endAsync();
  }
}

interface Phase {
  broker: 'embedded aedes' | 'mosquitto';
  database: 'postgres' | 'pglite';
  baseline: boolean;
}

interface PhaseResult {
  phase: Phase;
  poolSize: number;
  jit: boolean;
  roundTripMs: number | null;
  slowWarning: boolean;
  rtt: { first: number; median: number; count: number };
  probe: LoadResult | null;
  gateway: LoadResult;
  runs: number;
  commands: number;
  distinctCommands: number;
  /** Trigger handled → command at the Axon, over every command of the phase (1 ms clock). */
  delivery: { p50Ms: number; p99Ms: number };
  dispatched: number;
  baseline: BaselineResult | null;
  gatewayCpu: CpuUse;
  baselineCpu: CpuUse | null;
  baselineRows: number;
  baselineDelivered: number;
}

const CLIENTS = intFromEnv('BENCH_CLIENTS', 32, 1, 1_000);
const DURATION_S = intFromEnv('BENCH_DURATION_S', 10, 1, 600);
const WARMUP_S = intFromEnv('BENCH_WARMUP_S', 2, 0, 600);
const PROBE_S = intFromEnv('BENCH_PROBE_S', 3, 0, 600);
const WITH_PGLITE = intFromEnv('BENCH_PGLITE', 1, 0, 1) === 1;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'info';
const PROFILE_DIR = process.env.BENCH_CPU_PROFILE || undefined;
/** The Postgres phases to run: `embedded`, `mosquitto` or both (the PGlite row is BENCH_PGLITE). */
const BROKERS = (process.env.BENCH_BROKERS || 'embedded,mosquitto').split(',').map((b) => b.trim());

/** A V8 CPU profile of this process (the gateway) over the measured window, for BENCH_CPU_PROFILE=<directory>. */
async function startProfiler(): Promise<{ stop(name: string): Promise<string> }> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(name) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await mkdir(PROFILE_DIR!, { recursive: true });
      const file = path.join(PROFILE_DIR!, `${name}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      return file;
    },
  };
}

async function runPhase(
  phase: Phase,
  ctx: {
    dbUrl: string;
    load: (job: LoadJob) => Promise<LoadResult>;
    loader: ChildProcess;
    baseline: ChildProcess;
    axon: ChildProcess;
    postgresPids: () => Promise<number[]>;
  },
): Promise<PhaseResult> {
  const label = `${phase.broker} + ${phase.database}`;
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (/^SYNAPSE_/.test(key)) env[key] = value;
  const prefix = `synapse-bench-${randomBytes(4).toString('hex')}/v1`;
  // The Axon never answers: with the default 30 s heartbeat timeout the sweeper
  // would end the early runs (timed_out) in the middle of a later measurement.
  env.SYNAPSE_HEARTBEAT_TIMEOUT_S ??= '3600';
  // One loopback client sends ~1000 triggers/s: the per-IP and per-key trigger limits are off here.
  env.SYNAPSE_TRIGGER_RATE_PER_IP ??= '0';
  env.SYNAPSE_TRIGGER_RATE_PER_KEY ??= '0';
  Object.assign(env, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL, MQTT_TOPIC_PREFIX: prefix, SYNAPSE_GRAPHIQL: 'false' });
  if (phase.broker === 'mosquitto') {
    state.mosquitto = await startMosquitto();
    env.MQTT_URL = state.mosquitto.url;
    progress(`${label}: private Mosquitto on ${state.mosquitto.url}`);
  } else {
    env.MQTT_PORT = String(await freePort());
  }
  if (phase.database === 'postgres') env.DATABASE_URL = ctx.dbUrl;
  else {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'synapse-bench-pglite-'));
    state.tmpDirs.push(dir);
    env.SYNAPSE_DATA_DIR = dir;
    delete env.DATABASE_URL;
  }
  const parsed = parseConfig(env);
  if (!parsed.ok) throw new Error(`invalid gateway configuration: ${parsed.problems.join('; ')}`);
  const config = parsed.config;

  let roundTripMs: number | null = null;
  let slowWarning = false;
  const sink = discardingDestination((ms, slow) => {
    roundTripMs = ms;
    slowWarning = slow;
  });
  const logger = createLogger(config.LOG_LEVEL, sink.destination);
  const gateway = await startGateway(config, { logger, onProgress: (m) => progress(`${label}: gateway: ${m}`) });
  state.gateway = gateway;
  progress(`${label}: gateway on ${gateway.url}, broker ${gateway.brokerUrl}, start-up QoS 1 round trip ${roundTripMs ?? '?'} ms${slowWarning ? ' (SLOW warning logged)' : ''}`);

  const rtt = await probeRoundTrips(gateway.brokerUrl, `${prefix}/gateway/probe/bench`, 20);
  progress(`${label}: QoS 1 round trips from a fresh mqtt.js client: first ${rtt.first.toFixed(2)} ms, median of ${rtt.count} ${rtt.median.toFixed(2)} ms`);

  const db = gateway.database.db;
  // postgres.js answers with an array of rows, PGlite with { rows }.
  const count = async (query: ReturnType<typeof dsql>): Promise<number> => {
    const result = (await db.execute(query)) as unknown as Array<{ n: string | number }> | { rows: Array<{ n: string | number }> };
    return Number((Array.isArray(result) ? result : result.rows)[0]?.n);
  };

  const serviceId = `bench-${randomBytes(4).toString('hex')}`;
  const baselineTopic = `${prefix}/bench-baseline/${serviceId}`;
  const started = await ask<AxonReply>(ctx.axon, { type: 'start', url: gateway.brokerUrl, prefix, serviceId, baselineTopic } satisfies AxonStart);
  if (started.type !== 'ready') throw new Error(`the Axon did not start: ${started.type === 'error' ? started.error : started.type}`);
  await waitFor(`service ${serviceId} online`, 10_000, async () => {
    const data = await gql<{ service: { status: string } | null }>(gateway.url, 'query S($id: ID!) { service(id: $id) { status } }', { id: serviceId });
    return data.service?.status === 'online';
  });

  const body = triggerBody(serviceId);
  const first = await gql<{ triggerAction: Record<string, unknown> }>(gateway.url, TRIGGER, JSON.parse(body).variables);
  if (first.triggerAction.__typename !== 'TriggerPayload') throw new Error(`triggerAction failed: ${JSON.stringify(first.triggerAction)}`);
  progress(`${label}: Axon ${serviceId} online; a first trigger answered ${JSON.stringify(first.triggerAction).slice(0, 120)}…`);

  const job = (connections: number, durationS: number): LoadJob => ({ url: gateway.url, bodies: [body], durationS, connections, pipelining: 1 });
  const checked = async (what: string, result: LoadResult) => {
    // A timed-out request (10 s) is reported; any other failure ends the run.
    if (result.errors > result.timeouts || result.non2xx) throw new Error(`${label} ${what}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`);
    progress(
      `${label}: ${what}: ${result.requests} triggers, ${result.rps.toFixed(0)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms${result.timeouts ? `, ${result.timeouts} TIMEOUTS` : ''}`,
    );
    return result;
  };
  let probe: LoadResult | null = null;
  if (PROBE_S > 0) probe = await checked(`1 client for ${PROBE_S} s (unloaded latency)`, await ctx.load(job(1, PROBE_S)));
  let completed = 1 + (probe?.requests ?? 0);
  if (WARMUP_S > 0) completed += (await checked(`warm-up, ${CLIENTS} clients for ${WARMUP_S} s`, await ctx.load(job(CLIENTS, WARMUP_S)))).requests;
  const pids: CpuPids = {
    children: {
      ...(state.mosquitto ? { mosquitto: state.mosquitto.pid } : {}),
      'load generator': ctx.loader.pid,
      axon: ctx.axon.pid,
    },
    postgres: phase.database === 'postgres' ? ctx.postgresPids : async () => [],
  };
  const cpuBefore = await sampleCpu(pids);
  const profiler = PROFILE_DIR ? await startProfiler() : undefined;
  const measured = await checked(`${CLIENTS} clients for ${DURATION_S} s`, await ctx.load(job(CLIENTS, DURATION_S)));
  const gatewayCpu = cpuBetween(cpuBefore, await sampleCpu(pids), measured.durationS, 'gateway');
  if (profiler) progress(`${label}: CPU profile of the gateway process written to ${await profiler.stop(`trigger-${phase.broker.replace(/\W+/g, '-')}-${phase.database}`)}`);
  progress(`${label}: CPU ms per trigger: ${describeCpu(gatewayCpu, measured.requests)}`);
  completed += measured.requests;

  // Drain: every committed run's command published and received.
  const drainStarted = performance.now();
  let counts: AxonCounts | undefined;
  let runs = 0;
  await waitFor('the outbox to drain and the Axon to receive every command', 60_000, async () => {
    const pending = await count(dsql`select count(*) as n from outbox where sent_at is null`);
    runs = await count(dsql`select count(*) as n from runs`);
    counts = await ask<AxonCounts>(ctx.axon, { type: 'counts' });
    return pending === 0 && counts.commands >= runs;
  }).catch(() => {});
  // A moment for duplicates (a command delivered twice) to show up.
  await new Promise((r) => setTimeout(r, 300));
  counts = await ask<AxonCounts>(ctx.axon, { type: 'counts' });
  runs = await count(dsql`select count(*) as n from runs`);
  const dispatched = await count(dsql`select count(*) as n from runs where state = 'dispatched'`);
  progress(
    `${label}: drained in ${((performance.now() - drainStarted) / 1000).toFixed(1)} s: runs ${runs}, commands received ${counts.commands} (${counts.distinctCommands} distinct ids), runs dispatched ${dispatched}; trigger → Axon p50 ${counts.deliveryP50Ms.toFixed(0)} ms, p99 ${counts.deliveryP99Ms.toFixed(0)} ms`,
  );
  if (counts.commands !== runs || counts.distinctCommands !== runs || dispatched !== runs) {
    throw new Error(`${label}: commands received (${counts.commands}, ${counts.distinctCommands} distinct) differ from runs created (${runs}; ${dispatched} dispatched)`);
  }
  if (runs < completed) throw new Error(`${label}: ${completed} triggers answered but only ${runs} runs exist: some triggers did not create a run`);

  let baseline: BaselineResult | null = null;
  let baselineCpu: CpuUse | null = null;
  let baselineRows = 0;
  let baselineDelivered = 0;
  if (phase.baseline) {
    await db.execute(dsql`create table if not exists bench_baseline (id bigserial primary key, command_id uuid not null, topic text not null, payload jsonb not null, created_at timestamptz not null default now())`);
    const ops = measured.requests;
    const warmupOps = Math.min(ops, Math.round(measured.rps * Math.min(WARMUP_S, 1)));
    progress(`${label}: baseline: ${warmupOps} warm-up operations, then ${ops} measured, ${CLIENTS} concurrent`);
    const baselineAsk = async (request: BaselineRequest) => {
      const reply = await ask<BaselineReply>(ctx.baseline, request);
      if (reply.type === 'error') throw new Error(`baseline: ${reply.error}`);
      return reply.result;
    };
    await baselineAsk({ type: 'open', brokerUrl: gateway.brokerUrl, dbUrl: ctx.dbUrl, topic: baselineTopic, sample: counts.sample!, poolSize: config.SYNAPSE_DB_POOL_SIZE });
    if (warmupOps > 0) await baselineAsk({ type: 'run', ops: warmupOps, concurrency: CLIENTS });
    const basePids: CpuPids = {
      children: { ...(state.mosquitto ? { mosquitto: state.mosquitto.pid } : {}), baseline: ctx.baseline.pid, axon: ctx.axon.pid },
      postgres: ctx.postgresPids,
    };
    const before = await sampleCpu(basePids);
    baseline = (await baselineAsk({ type: 'run', ops, concurrency: CLIENTS }))!;
    // The embedded broker runs in this process: its share is this process's CPU.
    baselineCpu = cpuBetween(before, await sampleCpu(basePids), baseline.durationS, phase.broker === 'mosquitto' ? null : 'embedded broker');
    progress(`${label}: baseline CPU ms per operation: ${describeCpu(baselineCpu, ops)}`);
    await baselineAsk({ type: 'close' });
    baselineRows = await count(dsql`select count(*) as n from bench_baseline`);
    await waitFor('the Axon to receive every baseline message', 30_000, async () => (await ask<AxonCounts>(ctx.axon, { type: 'counts' })).baseline >= baselineRows).catch(() => {});
    baselineDelivered = (await ask<AxonCounts>(ctx.axon, { type: 'counts' })).baseline;
    progress(`${label}: baseline: ${baseline.rps.toFixed(0)} ops/s, p50 ${baseline.p50Ms.toFixed(2)} ms, p99 ${baseline.p99Ms.toFixed(2)} ms; rows ${baselineRows}, delivered ${baselineDelivered}`);
    await db.execute(dsql`drop table bench_baseline`);
  }

  await ask<AxonReply>(ctx.axon, { type: 'stop' });
  await gateway.close();
  state.gateway = undefined;
  sink.close();
  if (state.mosquitto) {
    await state.mosquitto.close();
    state.mosquitto = undefined;
  }
  if (phase.database === 'postgres') {
    // The next phase starts from empty tables.
    const sql = postgres(ctx.dbUrl, { max: 1, onnotice: () => {} });
    try {
      await sql`truncate runs, run_events, outbox, idempotency_keys, services`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  return {
    phase,
    poolSize: config.SYNAPSE_DB_POOL_SIZE,
    jit: config.SYNAPSE_GRAPHQL_JIT,
    roundTripMs,
    slowWarning,
    rtt,
    probe,
    gateway: measured,
    gatewayCpu,
    baselineCpu,
    runs,
    commands: counts.commands,
    distinctCommands: counts.distinctCommands,
    delivery: { p50Ms: counts.deliveryP50Ms, p99Ms: counts.deliveryP99Ms },
    dispatched,
    baseline,
    baselineRows,
    baselineDelivered,
  };
}

function commandLine(): string {
  const vars = Object.keys(process.env)
    .filter((k) => /^(BENCH_|SYNAPSE_)/.test(k) && !/URL|PASSWORD|TOKEN|USERNAME/.test(k))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...vars, 'npm run bench:trigger'].join(' ');
}

async function main(): Promise<void> {
  const { adminUrl, dbName, dbUrl, serverVersion } = await createBenchDatabase('bench:trigger', (adminUrl, name) => {
    state.adminUrl = adminUrl;
    state.dbName = name;
  });
  progress(`created database ${dbName} (Postgres ${serverVersion})`);

  const [loader, axon, baseline] = await Promise.all([
    startChild(new URL('./load.ts', import.meta.url), []),
    startChild(new URL(import.meta.url), ['axon']),
    startChild(new URL(import.meta.url), ['baseline']),
  ]);
  const load = (job: LoadJob) => ask<LoadReply>(loader, job).then((reply) => {
    if (!reply.ok) throw new Error(`load generator: ${reply.error}`);
    return reply.result;
  });

  const phases: Phase[] = [
    ...(BROKERS.includes('embedded') ? [{ broker: 'embedded aedes', database: 'postgres', baseline: true } as Phase] : []),
    ...(BROKERS.includes('mosquitto') ? [{ broker: 'mosquitto', database: 'postgres', baseline: true } as Phase] : []),
    ...(WITH_PGLITE ? [{ broker: 'embedded aedes', database: 'pglite', baseline: false } as Phase] : []),
  ];
  // A separate connection lists the benchmark database's backends for the CPU accounting.
  const monitor = postgres(adminUrl, { max: 1, onnotice: () => {} });
  state.monitor = monitor;
  const postgresPids = async () => (await monitor<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName}`).map((r) => r.pid);
  const results: PhaseResult[] = [];
  for (const phase of phases) results.push(await runPhase(phase, { dbUrl: dbUrl.toString(), load, loader, baseline, axon, postgresPids }));

  const cpus = os.cpus();
  const fmt = (n: number | undefined, digits: number) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));
  const row = (cells: string[]) => cells[0]!.padEnd(24) + cells[1]!.padEnd(20) + cells.slice(2, 5).map((c) => c.padStart(9)).join('') + '  ' + cells[5]!.padEnd(22) + cells[6]!.padStart(6);
  const lines = [
    '',
    'Trigger benchmark: triggerAction (GraphQL over HTTP POST → Postgres → outbox → MQTT QoS 1 → Axon) vs insert + publish',
    `command:  ${commandLine()}`,
    `machine:  node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Postgres ${serverVersion}`,
    `load:     autocannon in a child process, ${CLIENTS} clients (1 for the unloaded-latency row), ${DURATION_S} s after ${WARMUP_S} s warm-up; Axon and baseline in their own child processes`,
    `gateway:  in this process, log level ${LOG_LEVEL}${LOG_LEVEL === 'silent' ? '' : ' (to the null device)'}, pool ${results[0]?.poolSize}, GraphQL JIT ${results[0]?.jit ? 'on' : 'off'}`,
    `broker:   QoS 1 round trip at gateway start-up (one probe; > 20 ms logs the Nagle warning): ${results.map((r) => `${r.phase.broker} + ${r.phase.database} ${r.roundTripMs ?? '?'} ms${r.slowWarning ? ' (WARNED)' : ''}`).join('; ')}`,
    `          then from a fresh mqtt.js client (first / median of ${results[0]?.rtt.count ?? 0}): ${results.map((r) => `${r.phase.broker} + ${r.phase.database} ${r.rtt.first.toFixed(2)} / ${r.rtt.median.toFixed(2)} ms`).join('; ')}`,
    '',
    row(['broker', 'target', 'ops/s', 'p50 ms', 'p99 ms', 'commands vs runs', 'ratio']),
  ];
  for (const r of results) {
    const name = `${r.phase.broker}${r.phase.database === 'pglite' ? ' + PGlite' : ''}`;
    lines.push(row([name, `gateway, ${CLIENTS} clients`, fmt(r.gateway.rps, 0), fmt(r.gateway.p50Ms, 2), fmt(r.gateway.p99Ms, 2), `${r.commands} = ${r.runs}`, r.baseline ? fmt(r.gateway.rps / r.baseline.rps, 2) : '-']));
    if (r.probe) lines.push(row(['', 'gateway, 1 client', fmt(r.probe.rps, 0), fmt(r.probe.p50Ms, 2), fmt(r.probe.p99Ms, 2), '', '']));
    if (r.baseline) lines.push(row(['', `baseline, ${CLIENTS} clients`, fmt(r.baseline.rps, 0), fmt(r.baseline.p50Ms, 2), fmt(r.baseline.p99Ms, 2), `${r.baselineDelivered} = ${r.baselineRows}`, '']));
  }
  lines.push(
    '',
    `Command delivery (trigger handled → Axon received; every command of the phase, backlog included): ${results
      .map((r) => `${r.phase.broker}${r.phase.database === 'pglite' ? ' + PGlite' : ''} p50 ${r.delivery.p50Ms.toFixed(0)} ms, p99 ${r.delivery.p99Ms.toFixed(0)} ms`)
      .join('; ')}`,
  );
  lines.push(
    '',
    'CPU per operation in the measured window (ms, user + system, from /proc): gateway = this process (with the embedded broker in it);',
    'client = autocannon (gateway rows) or the baseline process; "others" = the share of all CPUs busy with processes outside this benchmark;',
    'CPU ratio = baseline total ÷ gateway total without the client (what the ratio would be if both were CPU-bound on an otherwise idle machine)',
    '',
    cpuRow(['broker', 'target', 'gateway', 'postgres', 'mosquitto', 'client', 'axon', 'total', 'CPUs busy', 'others', 'CPU ratio']),
  );
  const perOp = (v: number | null | undefined, ops: number) => (v === null || v === undefined ? '-' : ((v * 1000) / ops).toFixed(2));
  const pct = (v: number | null) => (v === null ? '-' : `${Math.round(v * 100)}%`);
  for (const r of results) {
    const name = `${r.phase.broker}${r.phase.database === 'pglite' ? ' + PGlite' : ''}`;
    const g = r.gatewayCpu;
    const ops = r.gateway.requests;
    const others = (u: CpuUse) => (u.machineBusy === null ? null : Math.max(0, u.machineBusy - u.ours / (u.wallS * cpus.length)));
    lines.push(
      cpuRow([name, 'gateway', perOp(g.components.gateway, ops), perOp(g.components.postgres, ops), perOp(g.components.mosquitto, ops), perOp(g.components['load generator'], ops), perOp(g.components.axon, ops), perOp(g.ours, ops), pct(g.machineBusy), pct(others(g))]),
    );
    const b = r.baselineCpu;
    if (b && r.baseline) {
      const n = r.baseline.ops;
      // The client's work is not the system's: autocannon for the gateway, while the baseline process is the system itself.
      const gatewaySide = (g.ours - (g.components['load generator'] ?? 0)) / ops;
      const cpuRatio = b.ours / n / gatewaySide;
      lines.push(
        cpuRow([
          '',
          'baseline',
          perOp(b.components['embedded broker'], n),
          perOp(b.components.postgres, n),
          perOp(b.components.mosquitto, n),
          perOp(b.components.baseline, n),
          perOp(b.components.axon, n),
          perOp(b.ours, n),
          pct(b.machineBusy),
          pct(others(b)),
          Number.isFinite(cpuRatio) ? cpuRatio.toFixed(2) : '-',
        ]),
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const cpuRow = (cells: string[]) => cells[0]!.padEnd(24) + cells[1]!.padEnd(10) + cells.slice(2).map((c) => c.padStart(10)).join('');

// ---------------------------------------------------------------------------

const role = process.argv[2];
if (role === 'axon') runAxonChild();
else if (role === 'baseline') runBaselineChild();
else runBench('bench:trigger', main, cleanup);
