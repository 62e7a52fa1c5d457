// A private Mosquitto for one test file, from the project's test config, on a
// free port: tests may stop and restart it without touching any shared broker.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './process.js';

export interface PrivateMosquitto {
  url: string;
  port: number;
  /** Its scratch directory (configuration, password file, log). */
  dir: string;
  /** The broker's process id while it runs (benchmarks read its CPU time). */
  readonly pid: number | undefined;
  /** SIGHUP: Mosquitto reads its password and ACL files again. */
  reload(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

export interface MosquittoOptions {
  /** The configuration instead of the test fixture's; {{PORT}} and {{DIR}} are filled in. */
  config?: string;
  /** Files to write into the scratch directory before starting (name → content). */
  files?: Record<string, string>;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<PrivateMosquitto> {
  const dir = await mkdtemp(path.join(tmpdir(), 'synapse-mosquitto-'));
  // Started as root, Mosquitto drops to its own user: it must be able to write its
  // persistence file (sessions survive restarts only then) and its log here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const template = options.config ?? (await readFile(new URL('../fixtures/mosquitto.test.conf', import.meta.url), 'utf8'));
  for (const [name, content] of Object.entries(options.files ?? {})) await writeFile(path.join(dir, name), content, { mode: 0o644 });
  const confPath = path.join(dir, 'mosquitto.conf');
  await writeFile(confPath, template.replaceAll('{{PORT}}', String(port)).replaceAll('{{DIR}}', dir));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    // Its own process group: a Ctrl-C in a terminal must not stop the broker before
    // the gateway has closed (its relay would wait for acknowledgements).
    child = spawn('mosquitto', ['-c', confPath], { stdio: 'ignore', detached: true });
    child.once('error', () => {});
    for (let i = 0; i < 100; i++) {
      if (await portOpen(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill();
    throw new Error(`mosquitto did not start on port ${port}; is it installed (apt-get install mosquitto)?`);
  }
  async function stop(): Promise<void> {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
    child = undefined;
  }
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid;
    },
    reload: () => child?.kill('SIGHUP'),
    start,
    stop,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
