// Shared by the benchmarks: a fresh Postgres database of their own, or a clear
// message and exit 1 when Postgres cannot be reached; baselines' servers on a
// free loopback port.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { redactUrl } from '../src/config/config.js';

/** A progress line on stderr (stdout holds the results). */
export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** Starts `server` on a free loopback port; its base URL, `http://127.0.0.1:{port}`. */
export async function listenOnLoopback(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Runs a benchmark's main and exits: cleans up after success, failure or
 * SIGINT/SIGTERM (a second signal exits at once without finishing the
 * clean-up), and says how long it took. After a signal, the steps in flight
 * fail as their processes stop: the signal handler reports and exits.
 */
export function runBench(script: string, main: () => Promise<void>, cleanup: () => Promise<void>): void {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) {
        progress(`${signal} again: exiting without finishing the clean-up`);
        process.exit(130);
      }
      interrupted = true;
      progress(`${signal}: cleaning up (again to exit at once)`);
      cleanup().finally(() => process.exit(130));
    });
  }
  const startedAt = performance.now();
  main().then(
    async () => {
      await cleanup();
      progress(`done in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
      process.exit(0);
    },
    async (error: unknown) => {
      if (interrupted) return;
      process.stderr.write(`${script} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      await cleanup();
      process.exit(1);
    },
  );
}

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A whole-number knob from the environment; a bad value exits 2 naming it. */
export function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    process.stderr.write(`${name} accepts a whole number ${min}..${max} (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return value;
}

export interface BenchDatabase {
  adminUrl: string;
  dbName: string;
  dbUrl: URL;
  serverVersion: string;
}

/**
 * Creates `synapse_bench_<random>` through the admin URL (BENCH_DATABASE_URL,
 * else DATABASE_URL, else the local default). `onCreated` runs before the
 * database exists, so the caller can register it for cleanup first.
 */
export async function createBenchDatabase(script: string, onCreated: (adminUrl: string, dbName: string) => void): Promise<BenchDatabase> {
  const adminUrl = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  let serverVersion: string;
  try {
    const [row] = await admin<{ server_version: string }[]>`show server_version`;
    serverVersion = row!.server_version;
  } catch (error) {
    await admin.end({ timeout: 1 }).catch(() => {});
    process.stderr.write(
      `Postgres is not reachable at ${redactUrl(adminUrl)}: ${error instanceof Error ? error.message : String(error)}\n` +
        'This benchmark needs a real Postgres where it may create and drop a database.\n' +
        `Set BENCH_DATABASE_URL (or DATABASE_URL) to an admin URL, e.g. BENCH_DATABASE_URL=${DEFAULT_ADMIN_URL} npm run ${script}\n`,
    );
    process.exit(1);
  }
  const dbName = `synapse_bench_${randomBytes(6).toString('hex')}`;
  onCreated(adminUrl, dbName);
  try {
    await admin.unsafe(`create database "${dbName}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${dbName}`;
  return { adminUrl, dbName, dbUrl, serverVersion };
}

/** Drops a benchmark database (also one that was never created). */
export async function dropBenchDatabase(adminUrl: string, dbName: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`drop database if exists "${dbName}" with (force)`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}
