// Composes a gateway from its configuration: database (migrated), domain
// services, GraphQL schema and the HTTP/WebSocket edge. No process-level side
// effects (signals, env, exit) live here; main.ts owns those.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from './config/config.js';
import { type DatabaseHandle, openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { schema } from './graphql/schema/index.js';
import { registerActionRoutes } from './http/rest/actions.js';
import { createHttpServer } from './http/server.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createRegistry } from './registry/registry.js';

export interface Gateway {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  database: DatabaseHandle;
  metrics: Metrics;
  /** Stops accepting, finishes in-flight requests, closes sockets and the database. */
  close(): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  /** Progress lines during start-up (migrations, listening). */
  onProgress?: (message: string) => void;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const progress = deps.onProgress ?? (() => {});

  progress(config.DATABASE_URL ? 'connecting to Postgres' : `opening the embedded database in ${config.SYNAPSE_DATA_DIR}`);
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.SYNAPSE_DATA_DIR, poolSize: config.SYNAPSE_DB_POOL_SIZE });
  try {
    const report = await migrate(database.db);
    progress(`database ready (${database.driver}; ${report.applied.length} of ${report.total} migrations applied now)`);
  } catch (error) {
    await database.close().catch(() => {});
    throw new StartupError(`could not prepare the database: ${error instanceof Error ? error.message : String(error)}`);
  }

  const metrics = createMetrics({ defaultMetrics: true });
  const registry = createRegistry(database.db, {
    repoRoot: config.SYNAPSE_REPO_ROOT ?? process.cwd(),
    defaultModel: config.SYNAPSE_PROMPT_MODEL,
  });
  const tenant = config.SYNAPSE_DEFAULT_TENANT;

  const { server, ws } = createHttpServer({
    schema,
    logger,
    metrics,
    graphiql: config.SYNAPSE_GRAPHIQL,
    jit: config.SYNAPSE_GRAPHQL_JIT,
    maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES,
    context: () => ({ tenant, registry }),
    routes: (router) => registerActionRoutes(router, { registry, tenant: () => tenant, maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES }),
    readiness: async () => {
      const ping = await withTimeout(
        database.ping().then(
          () => 'ok' as const,
          () => 'unreachable',
        ),
        2_000,
      );
      return { database: ping === 'timeout' ? 'timeout' : ping };
    },
  });

  server.listen(config.PORT, config.HOST);
  try {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([error]) => {
        throw error;
      }),
    ]);
  } catch (error) {
    await database.close().catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`port ${config.PORT} on ${config.HOST} is in use: stop the other process or set PORT`);
    if (code === 'EACCES') throw new StartupError(`no permission to listen on port ${config.PORT}: choose a port above 1023 with PORT`);
    throw new StartupError(`could not listen on ${config.HOST}:${config.PORT}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await ws.close();
      const result = await withTimeout(drained, config.SYNAPSE_SHUTDOWN_TIMEOUT_MS);
      if (result === 'timeout') {
        logger.warn({ timeoutMs: config.SYNAPSE_SHUTDOWN_TIMEOUT_MS }, 'in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
      }
      await database.close();
    })();
    return closing;
  }

  return { url, port, database, metrics, close };
}
