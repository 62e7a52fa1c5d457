// Starts a real gateway in this process on a free port, with a fresh database
// and a scratch repository root, and gives tests small HTTP helpers.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../server/src/config/config.js';
import { type Gateway, startGateway } from '../../server/src/gateway.js';
import { createLogger } from '../../server/src/observability/logger.js';
import { freshDatabase, type TestDatabase } from './database.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  /** Topic prefix of this gateway (unique per test gateway). */
  prefix: string;
  database: TestDatabase;
  repoRoot: string;
  /** Parsed JSON log lines written so far. */
  logs: Array<Record<string, unknown>>;
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<{ status: number; data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;
  rest(method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The bootstrap admin key (SYNAPSE_BOOTSTRAP_ADMIN_KEY) when set; gql and rest send it. */
  key: string | null;
  /** The broker URL for an Axon of `serviceId`: with its own credential when the gateway requires keys. */
  axonUrl(serviceId: string): Promise<string>;
  close(): Promise<void>;
}

/** A repository root with `sub/` inside and `escape` → a directory outside it. */
export async function scratchRepo(): Promise<{ root: string; outside: string; cleanup(): Promise<void> }> {
  const base = await mkdtemp(path.join(tmpdir(), 'synapse-repo-'));
  const root = path.join(base, 'repo');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'sub', 'deeper'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await symlink(outside, path.join(root, 'escape'));
  await symlink(path.join(root, 'sub'), path.join(root, 'inner-link'));
  return { root, outside, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/**
 * MQTT settings for a test gateway: the broker named by MQTT_URL (shared, so
 * every gateway gets a topic prefix of its own), else an embedded broker on a
 * free port.
 */
export function messagingEnv(): Record<string, string> {
  const prefix = `synapse-test-${randomBytes(4).toString('hex')}/v1`;
  return process.env.MQTT_URL ? { MQTT_URL: process.env.MQTT_URL, MQTT_TOPIC_PREFIX: prefix } : { MQTT_PORT: '0', MQTT_TOPIC_PREFIX: prefix };
}

export async function startTestGateway(
  env: Record<string, string> = {},
  options: {
    onDisk?: boolean;
    /** Another gateway whose database this one shares (Postgres: by URL; PGlite: the open handle). */
    sameDatabaseAs?: TestGateway;
    /** A database prepared beforehand (the caller drops it). */
    reuseDatabase?: TestDatabase;
  } = {},
): Promise<TestGateway> {
  const shared = options.sameDatabaseAs;
  const database = shared ? { ...shared.database, drop: async () => {} } : options.reuseDatabase ? { ...options.reuseDatabase, drop: async () => {} } : await freshDatabase(options);
  const repo = await scratchRepo();
  const parsed = parseConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    SYNAPSE_DATA_DIR: database.dataDir,
    SYNAPSE_REPO_ROOT: repo.root,
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...messagingEnv(),
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const gateway = await startGateway(parsed.config, {
    logger: createLogger(parsed.config.LOG_LEVEL, sink),
    ...(shared && !database.url ? { database: shared.gateway.database } : {}),
  });
  const url = gateway.url;
  const key = parsed.config.SYNAPSE_BOOTSTRAP_ADMIN_KEY ?? null;
  const auth: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};

  return {
    gateway,
    url,
    prefix: parsed.config.MQTT_TOPIC_PREFIX,
    database,
    repoRoot: repo.root,
    logs,
    async gql(query, variables) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...auth },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, ...((await res.json()) as object) };
    },
    async rest(method, route, body) {
      const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...auth } };
      if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
      const res = await fetch(`${url}${route}`, init);
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    key,
    async axonUrl(serviceId) {
      if (!key) return gateway.brokerUrl;
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ query: 'mutation ($s: ID!) { createAgentCredential(serviceId: $s) { ... on CreateAgentCredentialPayload { secret } ... on Error { code message } } }', variables: { s: serviceId } }),
      });
      const body = (await res.json()) as { data?: { createAgentCredential?: { secret?: string } } };
      const secret = body.data?.createAgentCredential?.secret;
      if (!secret) throw new Error(`createAgentCredential failed: ${JSON.stringify(body)}`);
      const broker = new URL(gateway.brokerUrl);
      broker.username = serviceId;
      broker.password = secret;
      return broker.toString();
    },
    async close() {
      await gateway.close();
      await database.drop();
      await repo.cleanup();
    },
  };
}
