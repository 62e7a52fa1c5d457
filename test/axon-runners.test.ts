// The command and prompt runners, end to end with real processes: the Axon runs
// as its own process (`synapse axon --allow-command --allow-prompt`), registry
// definitions are created over REST and run with runActionDefinition, and the
// outcome is read back from the run's event log. The CLI's trigger and tail go
// through the package's bin shim.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../client/src/cli/main.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ROOT } from './helpers/process.js';
import { eventually } from './helpers/wait.js';

type Ev = { seq: number; type: string; state: string; reason: string | null; source: string; data: Record<string, unknown> | null };
type Run = { id: string; state: string; reason: string | null; output: Record<string, unknown> | null; error: Record<string, unknown> | null; events: Ev[] };
const RUN = `query R($id: ID!) { run(id: $id) { id state reason output error events(first: 500) { seq type state reason source data } } }`;
const RUN_DEF = `mutation D($input: RunActionDefinitionInput!) { runActionDefinition(input: $input) { ... on TriggerPayload { run { id } } ... on Error { code message } } }`;
const TERMINAL = ['succeeded', 'failed', 'rejected', 'cancelled', 'timed_out', 'lost', 'expired'];
const short = (e: Ev) => e.type.replace('aionix.openact.action.', '');

let gw: TestGateway;
let base: string;
let axonRoot: string;
let axonProc: ChildProcess;
let axonLog = '';
const serviceId = `runner-${randomUUID().slice(0, 8)}`;
// The gateway requires keys: the CLI sends SYNAPSE_TOKEN, the Axon process its own MQTT credential.
const KEY = randomBytes(32).toString('base64url');

const run = async (id: string) => (await gw.gql<{ run: Run }>(RUN, { id })).data!.run;
const ended = (id: string, timeoutMs = 15_000) =>
  eventually(async () => {
    // Poll the state alone (an event log can be megabytes), then read the whole run once.
    const state = (await gw.gql<{ run: { state: string } }>(`query { run(id: "${id}") { state } }`)).data!.run.state;
    return TERMINAL.includes(state) ? run(id) : undefined;
  }, timeoutMs, `run ${id} to end`);

async function define(kind: 'command' | 'prompt', spec: Record<string, unknown>): Promise<string> {
  const res = await gw.rest('POST', '/api/actions', { title: `${kind} ${randomUUID().slice(0, 6)}`, kind, spec });
  if (res.status !== 200 && res.status !== 201) throw new Error(`define: ${JSON.stringify(res)}`);
  return String((res.body.action as { id: number }).id);
}
async function runDefinition(definitionId: string): Promise<string> {
  const res = await gw.gql<{ runActionDefinition: { run?: { id: string }; code?: string } }>(RUN_DEF, { input: { definitionId, serviceId } });
  const id = res.data?.runActionDefinition.run?.id;
  if (!id) throw new Error(`runActionDefinition: ${JSON.stringify(res)}`);
  return id;
}
function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
/** Peak resident memory of a process, in bytes (Linux). */
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** Runs the CLI's `main` in this process, capturing its output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: { SYNAPSE_URL: gw.url, SYNAPSE_TOKEN: KEY } });
  return { code, stdout, stderr };
}

/** Runs the `synapse` bin shim (client/bin/synapse.js) to completion. */
function synapse(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['client/bin/synapse.js', ...args], { cwd: ROOT, env: { ...process.env, SYNAPSE_URL: gw.url, SYNAPSE_TOKEN: KEY, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  gw = await startTestGateway({ SYNAPSE_HEARTBEAT_TIMEOUT_S: '10', SYNAPSE_BOOTSTRAP_ADMIN_KEY: KEY });
  const credential = new URL(await gw.axonUrl(serviceId));
  base = await mkdtemp(path.join(tmpdir(), 'synapse-axon-'));
  axonRoot = path.join(base, 'root');
  await mkdir(path.join(axonRoot, 'work'), { recursive: true });
  await mkdir(path.join(base, 'outside'));
  // In the gateway's repository `sub` is a directory; on this Axon it is a link out of its root.
  await symlink(path.join(base, 'outside'), path.join(axonRoot, 'sub'));
  const agent = path.join(base, 'fake-agent.mjs');
  await writeFile(
    agent,
    `let prompt = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => (prompt += c));
process.stdin.on('end', () => {
  console.log('agent argv=' + JSON.stringify(process.argv.slice(2)));
  console.log('agent cwd=' + process.cwd());
  console.log('agent prompt=' + prompt);
});
`,
  );
  await chmod(agent, 0o755);
  axonProc = spawn(
    process.execPath,
    [
      '--import', 'tsx', '--conditions=synapse-source', 'client/src/cli/bin.ts', 'axon',
      '--service', serviceId,
      '--action', 'hello=echo "hello from $SYNAPSE_ACTION_ID with $(cat)"',
      '--allow-command', '--allow-prompt',
      '--prompt-command', `${process.execPath} ${agent} --model {model} -c reasoning={reasoning}`,
      '--root', axonRoot,
      '--ttl', '60',
      '--broker', gw.gateway.brokerUrl,
      '--prefix', gw.prefix,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', MQTT_USERNAME: credential.username, MQTT_PASSWORD: credential.password },
    },
  );
  axonProc.stdout!.on('data', (c: Buffer) => (axonLog += c.toString()));
  axonProc.stderr!.on('data', (c: Buffer) => (axonLog += c.toString()));
  await eventually(() => axonLog.includes(`axon ${serviceId} online`), 20_000, `the Axon process to come online:\n${axonLog}`);
  await eventually(async () => (await gw.gql<{ service: { status: string } | null }>(`query { service(id: "${serviceId}") { status } }`)).data?.service?.status === 'online');
});
afterAll(async () => {
  if (axonProc && axonProc.exitCode === null) axonProc.kill('SIGKILL');
  await gw?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('command runner', () => {
  it('kills a command at timeout_s: failed with reason timeout within 7 s, output kept, no process left', async () => {
    const id = await runDefinition(await define('command', { cmd: 'echo hi; sleep 30', timeout_s: 2 }));
    const t0 = Date.now();
    const r = await ended(id, 10_000);
    expect(Date.now() - t0).toBeLessThan(7_000);
    expect(r).toMatchObject({ state: 'failed', reason: 'timeout', error: { code: 'timeout', timeoutS: 2 } });
    const chunks = r.events.filter((e) => short(e) === 'output').map((e) => e.data!.chunk).join('');
    expect(chunks).toBe('hi\n');
    const pid = r.error!.pid as number;
    expect(pid).toBeGreaterThan(1);
    expect(groupGone(pid)).toBe(true);
  });

  it('refuses at run time a cwd that is a symlink out of the Axon\'s root', async () => {
    const id = await runDefinition(await define('command', { cmd: 'pwd', cwd: 'sub' }));
    const r = await ended(id);
    expect(r).toMatchObject({ state: 'rejected', reason: 'cwd_outside_root', error: { code: 'cwd_outside_root' } });
    expect(r.events.some((e) => short(e) === 'output')).toBe(false);
    await eventually(() => gw.logs.find((l) => l.msg === 'run rejected by the Axon' && l.runId === id), 5_000, 'gateway warning');
  });

  it('runs in a cwd under the root and reports exit code and duration', async () => {
    const ok = await ended(await runDefinition(await define('command', { cmd: 'pwd; echo err >&2', cwd: 'work' })));
    expect(ok.state).toBe('succeeded');
    expect(ok.output).toMatchObject({ exitCode: 0, truncated: false });
    expect(ok.output!.durationMs).toEqual(expect.any(Number));
    const out = ok.events.filter((e) => short(e) === 'output');
    expect(out.find((e) => e.data!.stream === 'stdout')!.data!.chunk).toMatch(/\/root\/work\n$/);
    expect(out.find((e) => e.data!.stream === 'stderr')!.data!.chunk).toBe('err\n');
    const bad = await ended(await runDefinition(await define('command', { cmd: 'exit 3' })));
    expect(bad).toMatchObject({ state: 'failed', reason: 'exit code 3', error: { code: 'exit_code', exitCode: 3 } });
  });

  it('cancels a long command: cancelled, and its process group is gone', async () => {
    const id = await runDefinition(await define('command', { cmd: 'echo started; sleep 30 & sleep 30; wait', timeout_s: 60 }));
    await eventually(async () => (await run(id)).events.some((e) => e.data?.chunk === 'started\n'), 10_000, 'output');
    const pid = Number(/started pid (\d+)/.exec(JSON.stringify((await run(id)).events.map((e) => e.data?.message ?? '')))![1]);
    expect(groupGone(pid)).toBe(false);
    const t0 = Date.now();
    await gw.gql(`mutation { cancelRun(id: "${id}") { __typename } }`);
    const r = await ended(id, 10_000);
    expect(r).toMatchObject({ state: 'cancelled', reason: 'cancelled on request' });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(groupGone(pid)).toBe(true);
  });

  it('caps a 100 MiB output flood: one marker, at most 8 MiB stored, the Axon\'s memory bounded', async () => {
    const before = peakRss(axonProc.pid!);
    const id = await runDefinition(await define('command', { cmd: "head -c 104857600 /dev/zero | tr '\\0' x", timeout_s: 60 }));
    const r = await ended(id, 30_000);
    expect(r.state).toBe('succeeded');
    expect(r.output).toMatchObject({ exitCode: 0, truncated: true });
    expect(Number(r.output!.outputBytes) + Number(r.output!.droppedBytes)).toBe(104_857_600);
    const events: Ev[] = [];
    for (let after = 0; ; ) {
      const page = (await gw.gql<{ run: { events: Ev[] } }>(`query { run(id: "${id}") { events(after: ${after}, first: 500) { seq type state reason source data } } }`)).data!.run.events;
      events.push(...page);
      if (page.length < 500) break;
      after = page.at(-1)!.seq;
    }
    const outputs = events.filter((e) => short(e) === 'output');
    const markers = outputs.filter((e) => e.data?.truncated === true);
    expect(markers).toHaveLength(1);
    expect(markers[0]!.source).toBe(`trn:synapse:default:service/${serviceId}`);
    const stored = outputs.filter((e) => e.data?.truncated !== true).reduce((n, e) => n + String(e.data!.chunk).length, 0);
    expect(stored).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(Math.max(...outputs.map((e) => String(e.data!.chunk ?? '').length))).toBeLessThanOrEqual(16 * 1024);
    // Holding the flood would take at least its 100 MiB; the Axon keeps at most the capped
    // 8 MiB in flight (measured: 10–70 MiB of peak growth, depending on GC timing and load).
    const grew = peakRss(axonProc.pid!) - before;
    expect(grew).toBeLessThan(96 * 1024 * 1024);
  });
});

describe('prompt runner', () => {
  it('runs the agent command with the prompt on stdin, in the root', async () => {
    const id = await runDefinition(await define('prompt', { prompt: 'say hi', model: 'test-model', reasoning: 'low', timeout_s: 10 }));
    const r = await ended(id);
    expect(r.state).toBe('succeeded');
    const text = r.events.filter((e) => short(e) === 'output').map((e) => e.data!.chunk).join('');
    expect(text).toContain('agent argv=["--model","test-model","-c","reasoning=low"]');
    expect(text).toContain('agent prompt=say hi');
    expect(text).toMatch(/agent cwd=.*\/root\n/);
  });
});

describe('the synapse CLI (through the bin shim)', () => {
  it('triggers an action and waits for its outcome; tail replays the run', async () => {
    const t = await synapse(['trigger', serviceId, 'hello', '--input', '{"n":1}', '--wait', '10000', '--json']);
    expect(t.code).toBe(0);
    const result = JSON.parse(t.stdout) as { runId: string; state: string; output: { exitCode: number } };
    expect(result).toMatchObject({ state: 'succeeded', output: { exitCode: 0 } });
    const tail = await cli(['tail', result.runId]);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toBe('hello from hello with {"n":1}\n');
    expect(tail.stderr).toContain('succeeded → succeeded');
  });

  it('is refused without the API key (exit 3, unauthenticated)', async () => {
    const t = await synapse(['trigger', serviceId, 'hello'], { SYNAPSE_TOKEN: '' });
    expect(t.code).toBe(3);
    expect(t.stderr).toContain('API key');
  });

  it('runs a definition and reports a failure with exit code 1; refusals with 3; usage errors with 2 (main in-process)', async () => {
    const def = await define('command', { cmd: 'echo nope; exit 7' });
    const [failed, unknown, usage, noRun] = await Promise.all([
      cli(['trigger', serviceId, '--definition', def, '--wait', '10000']),
      cli(['trigger', serviceId, 'no_such_action']),
      cli(['trigger']),
      cli(['tail', 'no-such-run']),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^run \S+ failed \(exit code 7\)\nerror: .*"exitCode":7/);
    expect(unknown).toMatchObject({ code: 3 });
    expect(unknown.stderr).toContain('unknown_action');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('a service id is required');
    expect(noRun.code).toBe(3);
    expect(noRun.stderr).toContain('no run no-such-run');
  });

  it('stops the Axon on SIGTERM, announcing offline', async () => {
    const exited = new Promise<number | null>((resolve) => axonProc.once('exit', (code) => resolve(code)));
    axonProc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await eventually(async () => (await gw.gql<{ service: { status: string } }>(`query { service(id: "${serviceId}") { status } }`)).data!.service.status === 'offline', 3_000, 'offline');
  });
});
