/**
 * Benchmark: the registry's two hot reads served by the gateway (GraphQL over
 * HTTP POST) against a bare node:http + postgres.js baseline serving the same
 * rows as the same JSON.
 *
 * Run with `npm run bench:registry` (docs/benchmarks.md, "Registry"). It:
 *  1. creates a fresh database `synapse_bench_<random>` on a real Postgres
 *     (BENCH_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres)
 *     and drops it at the end, also on failure and Ctrl-C;
 *  2. starts the real gateway in this process with `startGateway` and seeds
 *     1,000 definitions (prompt and command kinds) through the registry;
 *  3. starts the baseline on a free port (server/bench/baseline.ts) and
 *     byte-compares one response of each operation with the gateway's before
 *     timing anything;
 *  4. loads both with autocannon, run in a child process (server/bench/load.ts)
 *     so the load generator does not share the gateway's event loop,
 *     alternating gateway/baseline rounds per operation after a warm-up, and
 *     reports the median round of each target, with the CPU time this process
 *     spent per request (only one of gateway and baseline is loaded at a time).
 *     The CPU figure holds up better than req/s when other work shares the
 *     machine.
 *
 * Progress goes to stderr; the final table goes to stdout.
 *
 * Knobs (environment): BENCH_DURATION_S (5), BENCH_ROUNDS (3), BENCH_WARMUP_S (2),
 * BENCH_CONNECTIONS (10), BENCH_PIPELINING (1), BENCH_LOG_LEVEL (info: the
 * product default, written to the null device; `silent` turns logging off).
 * SYNAPSE_* and MQTT_* variables reach the gateway's configuration, e.g.
 * SYNAPSE_GRAPHQL_JIT=false (the embedded MQTT broker gets a free port unless
 * MQTT_PORT is set).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pino from 'pino';
import postgres from 'postgres';
import { parseConfig, redactUrl } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { createRegistry } from '../src/registry/registry.js';
import { type Baseline, createBaseline } from './baseline.js';
import type { LoadJob, LoadReply, LoadResult } from './load.js';
import { createBenchDatabase, dropBenchDatabase, intFromEnv, listenOnLoopback, progress, runBench } from './common.js';

const DEFINITIONS = 1_000;
const TENANT = 'default';


const DURATION_S = intFromEnv('BENCH_DURATION_S', 5, 1, 600);
const ROUNDS = intFromEnv('BENCH_ROUNDS', 3, 1, 99);
const WARMUP_S = intFromEnv('BENCH_WARMUP_S', 2, 0, 600);
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 10, 1, 1_000);
const PIPELINING = intFromEnv('BENCH_PIPELINING', 1, 1, 100);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || 'info';


// ---------------------------------------------------------------------------
// The two operations. The selection set is what the baseline reproduces.

const FIELDS = 'id title kind enabled version createdAt updatedAt specJson';

interface Operation {
  key: 'get' | 'list';
  label: string;
  query: string;
}

const GET: Operation = {
  key: 'get',
  label: 'actionDefinition(id)',
  query: `query BenchDefinition($id: ID!) { actionDefinition(id: $id) { ${FIELDS} } }`,
};
const LIST: Operation = {
  key: 'list',
  label: 'actionDefinitions(first: 50)',
  query: `query BenchDefinitions { actionDefinitions(first: 50) { nodes { ${FIELDS} } pageInfo { hasNextPage endCursor } } }`,
};

const getBody = (id: number) => JSON.stringify({ query: GET.query, variables: { id: String(id) }, operationName: 'BenchDefinition' });
const listBody = () => JSON.stringify({ query: LIST.query, operationName: 'BenchDefinitions' });

// ---------------------------------------------------------------------------
// Seed data: a deterministic mix of prompt and command definitions.

function seedDefinition(i: number): Record<string, unknown> {
  if (i % 3 === 0) {
    return {
      title: `Review change #${i} — "café" edition`,
      kind: 'prompt',
      spec: { prompt: `Review the diff of change ${i}.\nList risks first, then nits.`, reasoning: (['low', 'medium', 'high'] as const)[i % 3], timeout_s: 30 + (i % 60) },
      enabled: i % 10 !== 0,
    };
  }
  return {
    title: `Run check ${i}`,
    kind: 'command',
    spec: { cmd: `npm test -- --shard=${(i % 8) + 1}/8 && echo 'done ${i}'`, cwd: '.', timeout_s: 60 + (i % 600) },
    enabled: i % 7 !== 0,
  };
}

// ---------------------------------------------------------------------------
// Lifecycle: everything started is stopped by cleanup(), once.

const state: {
  admin?: postgres.Sql;
  adminUrl?: string;
  dbName?: string;
  gateway?: Gateway;
  baseline?: Baseline;
  loader?: ChildProcess;
} = {};

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // Every step is bounded, so a stuck close (say, the database went away) cannot keep the process alive.
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(fn),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('gave up after 15 s')), 15_000);
          }),
        ]);
      } catch (error) {
        progress(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        clearTimeout(timer);
      }
    };
    if (state.loader && state.loader.exitCode === null) await step('stopping the load generator', () => state.loader!.kill());
    if (state.baseline) {
      const { server, sql } = state.baseline;
      await step('stopping the baseline', async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await sql.end({ timeout: 5 });
      });
    }
    if (state.gateway) await step('stopping the gateway', () => state.gateway!.close());
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


// ---------------------------------------------------------------------------
// Load generation through the child process.

async function startLoader(): Promise<(job: LoadJob) => Promise<LoadResult>> {
  // fork() reuses this process's execArgv, so the child runs under tsx as well.
  const child = fork(new URL('./load.ts', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  state.loader = child;
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the load generator exited (${code}) before it was ready`)));
  });
  return (job) =>
    new Promise<LoadResult>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (reply: LoadReply) => {
        child.off('exit', onExit);
        if (reply.ok) resolve(reply.result);
        else reject(new Error(`load generator: ${reply.error}`));
      });
      child.send(job);
    });
}

// ---------------------------------------------------------------------------

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A timed round and the CPU time this process (gateway and baseline; only one is loaded) spent per request. */
interface Round extends LoadResult {
  cpuUsPerRequest: number;
}

const middle = <T>(sorted: T[]): T => sorted[Math.floor((sorted.length - 1) / 2)]!;
/** The median round by throughput (its latencies are shown), and the median CPU time per request over all rounds. */
const summarise = (rounds: Round[]) => ({
  ...middle([...rounds].sort((a, b) => a.rps - b.rps)),
  cpuUsPerRequest: middle(rounds.map((r) => r.cpuUsPerRequest).sort((a, b) => a - b)),
});

function commandLine(): string {
  const vars = Object.keys(process.env)
    .filter((k) => /^(BENCH_|SYNAPSE_|MQTT_)/.test(k) && !/URL|PASSWORD|TOKEN|USERNAME/.test(k))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...vars, 'npm run bench:registry'].join(' ');
}

async function main(): Promise<void> {
  const { dbName, dbUrl, serverVersion } = await createBenchDatabase('bench:registry', (adminUrl, name) => {
    state.adminUrl = adminUrl;
    state.dbName = name;
  });
  progress(`created database ${dbName} (Postgres ${serverVersion})`);

  const gatewayEnv: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(process.env)) if (/^(SYNAPSE_|MQTT_)/.test(key)) gatewayEnv[key] = value;
  // Free ports for everything the gateway listens on (its embedded MQTT broker too).
  const parsed = parseConfig({ MQTT_PORT: '0', ...gatewayEnv, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: LOG_LEVEL, DATABASE_URL: dbUrl.toString() });
  if (!parsed.ok) throw new Error(`invalid gateway configuration: ${parsed.problems.join('; ')}`);
  const config = parsed.config;
  // The product logs to stdout; the benchmark keeps the same logger (and its
  // cost: serialisation and one write per request) but writes to the null device.
  const logger = createLogger(config.LOG_LEVEL, pino.destination({ dest: os.devNull, sync: true }));
  const gateway = await startGateway(config, { logger, onProgress: (m) => progress(`gateway: ${m}`) });
  state.gateway = gateway;
  progress(`gateway listening on ${gateway.url} (JIT ${config.SYNAPSE_GRAPHQL_JIT ? 'on' : 'off'}, log level ${config.LOG_LEVEL})`);

  const seeder = createRegistry(gateway.database.db, { repoRoot: config.SYNAPSE_REPO_ROOT ?? process.cwd(), defaultModel: config.SYNAPSE_PROMPT_MODEL });
  const ids: number[] = [];
  for (let start = 0; start < DEFINITIONS; start += 25) {
    const batch = Array.from({ length: Math.min(25, DEFINITIONS - start) }, (_, k) => seeder.create(TENANT, seedDefinition(start + k + 1)));
    for (const created of await Promise.all(batch)) {
      if (!created.ok) throw new Error(`seeding failed: ${created.error.code}: ${created.error.message}`);
      ids.push(created.value.id);
    }
  }
  progress(`seeded ${ids.length} definitions`);

  const baseline = createBaseline(dbUrl.toString(), { poolSize: config.SYNAPSE_DB_POOL_SIZE, tenant: TENANT });
  state.baseline = baseline;
  const baselineUrl = await listenOnLoopback(baseline.server);
  progress(`baseline listening on ${baselineUrl}`);

  // Same bytes from both before anything is timed.
  for (const [operation, body] of [
    [GET, getBody(ids[Math.floor(ids.length / 2)]!)],
    [LIST, listBody()],
  ] as const) {
    const fromGateway = await post(gateway.url, body);
    const fromBaseline = await post(baselineUrl, body);
    if (fromGateway.status !== 200 || fromGateway.text !== fromBaseline.text || fromGateway.status !== fromBaseline.status) {
      process.stderr.write(
        `response mismatch for ${operation.label}:\n  gateway  (${fromGateway.status}): ${fromGateway.text.slice(0, 600)}\n  baseline (${fromBaseline.status}): ${fromBaseline.text.slice(0, 600)}\n`,
      );
      throw new Error('the baseline does not reproduce the gateway response');
    }
    progress(`${operation.label}: gateway and baseline answer the same ${fromGateway.text.length} bytes`);
  }

  const load = await startLoader();
  const getBodies = shuffled(ids, 42).map(getBody);
  const targets = [
    { name: 'gateway', url: gateway.url },
    { name: 'baseline', url: baselineUrl },
  ] as const;
  const results: Array<{ operation: Operation; gateway: Round; baseline: Round }> = [];
  const loadAtStart = os.loadavg()[0]!;

  for (const operation of [GET, LIST]) {
    const bodies = operation.key === 'get' ? getBodies : [listBody()];
    const job = (url: string, durationS: number): LoadJob => ({ url, bodies, durationS, connections: CONNECTIONS, pipelining: PIPELINING });
    if (WARMUP_S > 0) {
      for (const target of targets) {
        progress(`${operation.label}: warm-up ${target.name} ${WARMUP_S} s`);
        await load(job(target.url, WARMUP_S));
      }
    }
    const rounds: Record<'gateway' | 'baseline', Round[]> = { gateway: [], baseline: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of targets) {
        const cpuBefore = process.cpuUsage();
        const loaded = await load(job(target.url, DURATION_S));
        const cpu = process.cpuUsage(cpuBefore);
        const result: Round = { ...loaded, cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, loaded.requests) };
        if (result.errors || result.timeouts || result.non2xx) {
          const sample = await post(target.url, bodies[0]!).then(
            (r) => `${r.status} ${r.text.slice(0, 300)}`,
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          );
          throw new Error(
            `${target.name} ${operation.label}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses (one request now: ${sample})`,
          );
        }
        rounds[target.name].push(result);
        progress(
          `${operation.label}: round ${round}/${ROUNDS} ${target.name.padEnd(8)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  CPU ${result.cpuUsPerRequest.toFixed(0)} µs/req`,
        );
      }
    }
    results.push({ operation, gateway: summarise(rounds.gateway), baseline: summarise(rounds.baseline) });
  }

  const cpus = os.cpus();
  const lines = [
    '',
    'Registry benchmark: gateway (GraphQL over HTTP POST) vs bare node:http + postgres.js',
    `command:  ${commandLine()}`,
    `machine:  node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), Postgres ${serverVersion} on the same machine; load average ${loadAtStart.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end`,
    `load:     autocannon in a child process, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ${ROUNDS} alternating rounds of ${DURATION_S} s per target after ${WARMUP_S} s warm-up; median round shown`,
    '          (CPU µs/req: this process\'s CPU time per request, median over the rounds; Postgres and the load generator excluded)',
    `gateway:  JIT ${config.SYNAPSE_GRAPHQL_JIT ? 'on' : 'off'}, log level ${config.LOG_LEVEL}${config.LOG_LEVEL === 'silent' ? '' : ' (to the null device)'}, pool ${config.SYNAPSE_DB_POOL_SIZE}; ${DEFINITIONS} definitions`,
    '',
    `${'operation'.padEnd(30)}${'target'.padEnd(10)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'CPU µs/req'.padStart(12)}`,
  ];
  const row = (operation: string, target: string, r: Round) =>
    `${operation.padEnd(30)}${target.padEnd(10)}${r.rps.toFixed(0).padStart(9)}${r.p50Ms.toFixed(2).padStart(9)}${r.p99Ms.toFixed(2).padStart(9)}${r.cpuUsPerRequest.toFixed(0).padStart(12)}`;
  for (const { operation, gateway: g, baseline: b } of results) {
    lines.push(row(operation.label, 'gateway', g), row('', 'baseline', b));
    lines.push(`${''.padEnd(30)}ratio gateway/baseline: ${(g.rps / b.rps).toFixed(2)} (req/s); ${(b.cpuUsPerRequest / g.cpuUsPerRequest).toFixed(2)} (baseline CPU/gateway CPU per request)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

runBench('bench:registry', main, cleanup);
