// Composes a gateway from its configuration: database (migrated), domain
// services, GraphQL schema and the HTTP/WebSocket edge. No process-level side
// effects (signals, env, exit) live here; main.ts owns those.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createActionConfigService } from './actionconfig/service.js';
import type { GatewayConfig } from './config/config.js';
import { type DatabaseHandle, openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { schema } from './graphql/schema/index.js';
import { registerActionRoutes } from './http/rest/actions.js';
import { defaultManifestPath, loadManifest, ManifestError } from './http/persisted-operations.js';
import { createRateLimiter } from './http/rate-limit.js';
import { createHttpServer } from './http/server.js';
import type { Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { createRegistry } from './registry/registry.js';
import { randomBytes, randomFillSync } from 'node:crypto';
import type { EmbeddedBroker } from './mqtt/broker.js';
import { type Messaging, type MessagingHooks, startMessaging } from './mqtt/messaging.js';
import { createEventIngest, EVENT_INGEST_LIMITS } from './events/ingest.js';
import { createFanOut } from './events/fanout.js';
import { createGatewayPeers } from './events/peers.js';
import { createLiveHub } from './events/live.js';
import { registerEventRoutes } from './http/rest/events.js';
import { createUuidv7Generator, newTraceId, pooledRandomBytes } from './protocol/index.js';
import { createRelay, type Relay } from './runs/relay.js';
import { createRunService } from './runs/service.js';
import { createRunVersions } from './runs/versions.js';
import { createSweeper } from './runs/sweeper.js';
import type { RunEventRow, RunRow } from './runs/events.js';
import { createCatalogue } from './services/catalogue.js';
import { registerTriggerRoutes } from './http/rest/triggers.js';
import { createWebhooks } from './webhooks/index.js';
import { type AccessControl, createAccessControl } from './auth/access.js';
import { createAgentStore } from './auth/agents.js';
import { createKeyStore } from './auth/keys.js';
import { createAuditLog } from './audit/audit.js';
import { createRestGuard } from './http/rest/guard.js';
import { isLoopbackAddress } from './mqtt/acl.js';

/** How long the relay holds an idle command's `dispatched` record for the Axon's answer (relay.ts, deferMarkMs). */
const DEFER_DISPATCHED_MS = 5;

/** A HOST only this machine can reach: localhost or a loopback address (the MQTT edge's own test). */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || isLoopbackAddress(h);
}

export interface Gateway {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  port: number;
  database: DatabaseHandle;
  metrics: Metrics;
  /** The embedded broker, when MQTT_URL is unset. */
  broker: EmbeddedBroker | undefined;
  /** The URL Axons connect to. */
  brokerUrl: string;
  relay: Relay;
  /** The gateway's MQTT client id (its name in leases and among its peers). */
  clientId: string;
  /** Stops accepting, finishes in-flight requests, closes sockets and the database. */
  close(): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  /** Progress lines during start-up (migrations, listening). */
  onProgress?: (message: string) => void;
  /**
   * An open database to use instead of opening one from the configuration
   * (several gateways in one process sharing an embedded database).
   */
  database?: DatabaseHandle;
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

  // Read before anything opens: a bad manifest is a configuration error.
  let persistedOperations: ReadonlyMap<string, string>;
  try {
    persistedOperations = loadManifest(config.SYNAPSE_PERSISTED_MANIFEST ?? defaultManifestPath());
  } catch (error) {
    throw new StartupError(error instanceof ManifestError ? `SYNAPSE_PERSISTED_MANIFEST: ${error.message}` : `could not find the persisted-operations manifest: set SYNAPSE_PERSISTED_MANIFEST`);
  }

  progress(config.DATABASE_URL ? 'connecting to Postgres' : `opening the embedded database in ${config.SYNAPSE_DATA_DIR}`);
  const opened = deps.database ?? (await openDatabase({ url: config.DATABASE_URL, dataDir: config.SYNAPSE_DATA_DIR, poolSize: config.SYNAPSE_DB_POOL_SIZE }));
  // A shared handle belongs to whoever passed it in: closing the gateway leaves it open.
  const database: DatabaseHandle = deps.database ? { ...opened, close: async () => {} } : opened;
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
  const actionConfigs = createActionConfigService(database.db);
  const tenant = config.SYNAPSE_DEFAULT_TENANT;
  const prefix = config.MQTT_TOPIC_PREFIX;
  // Ids and trace ids draw from a pool refilled by the CSPRNG (several per trigger).
  const idRandom = pooledRandomBytes((buffer) => randomFillSync(buffer));
  const newId = createUuidv7Generator(Date.now, idRandom);

  // Identity: open only while no key exists and only on loopback (docs/security.md).
  const keys = createKeyStore({ db: database.db, newId, random: (n) => randomBytes(n), now: Date.now, bootstrapSecret: config.SYNAPSE_BOOTSTRAP_ADMIN_KEY });
  const agents = createAgentStore({ db: database.db, newId, random: (n) => randomBytes(n), now: Date.now });
  const audit = createAuditLog(database.db);
  let access: AccessControl;
  try {
    const bootstrap = await keys.ensureBootstrap(tenant);
    if (bootstrap === 'revoked') logger.warn('SYNAPSE_BOOTSTRAP_ADMIN_KEY names a key that was revoked; it stays revoked: remove the variable');
    if (bootstrap === 'created') progress('bootstrap admin key created from SYNAPSE_BOOTSTRAP_ADMIN_KEY');
    const secured = (await keys.activeCount()) > 0;
    if (!secured && !isLoopback(config.HOST)) {
      throw new StartupError(
        `no API key is configured and HOST is ${config.HOST}, which other machines can reach: the gateway would run open. Set SYNAPSE_BOOTSTRAP_ADMIN_KEY (32+ random characters, for example from "openssl rand -base64 32") or create a key with "npx synapse keys create --name admin --scopes all", then start again`,
      );
    }
    if (!secured) {
      logger.warn(
        { host: config.HOST },
        'RUNNING OPEN: no API key is configured, so every caller on this machine has every scope and Axons may connect anonymously. Create a key (createApiKey, SYNAPSE_BOOTSTRAP_ADMIN_KEY or "npx synapse keys create") to require keys',
      );
    }
    access = createAccessControl({ keys, defaultTenant: tenant, secured, now: Date.now, onSecured: () => logger.info('an API key exists now: every caller needs a key from here on') });
  } catch (error) {
    await database.close().catch(() => {});
    throw error instanceof StartupError ? error : new StartupError(`could not read the API keys: ${error instanceof Error ? error.message : String(error)}`);
  }

  let messaging: Messaging;
  const messagingHooks: MessagingHooks = { security: { isOpen: () => access.isOpen(), agents } };
  try {
    progress(config.MQTT_URL ? 'connecting to the MQTT broker' : `starting the embedded MQTT broker on ${config.HOST}:${config.MQTT_PORT}`);
    messaging = await startMessaging(config, logger, messagingHooks);
  } catch (error) {
    await database.close().catch(() => {});
    throw new StartupError(error instanceof Error ? error.message : String(error));
  }
  const { bus, broker } = messaging;

  const rejectedSnapshots = metrics.counter('synapse_discovery_rejected_total', 'Discovery snapshots rejected, by reason.', ['reason'] as const);
  const publishedCommands = metrics.counter('synapse_outbox_published_total', 'Commands the outbox relay published (QoS 1, acknowledged by the broker).');
  const triggeredRuns = metrics.counter('synapse_runs_triggered_total', 'Runs created by triggers, by origin.', ['origin'] as const);

  const rejectedEvents = metrics.counter('synapse_events_rejected_total', 'Events rejected, by reason.', ['reason'] as const);
  const storedEvents = metrics.counter('synapse_events_stored_total', 'Events stored (each once).');

  const webhookDeliveries = metrics.counter('synapse_webhook_deliveries_total', 'Webhook delivery attempts by outcome (delivered, retried, dead_lettered, failed).', ['outcome'] as const);
  const webhooks = createWebhooks({
    db: database.db,
    logger,
    newId,
    owner: `${bus.clientId}-webhooks`,
    policy: { baseMs: config.SYNAPSE_WEBHOOK_BASE_MS, capMs: config.SYNAPSE_WEBHOOK_CAP_MS, maxAttempts: config.SYNAPSE_WEBHOOK_MAX_ATTEMPTS },
    timeoutMs: config.SYNAPSE_WEBHOOK_TIMEOUT_MS,
    concurrency: config.SYNAPSE_WEBHOOK_CONCURRENCY,
    stepflow: { url: config.STEPFLOW_EVENTS_URL, secret: config.STEPFLOW_EVENTS_SECRET },
    allowPrivate: config.SYNAPSE_WEBHOOK_ALLOW_PRIVATE,
    onOutcome: (outcome) => webhookDeliveries.inc({ outcome }),
  });
  const fanoutTopic = `${prefix}/gateway/fanout`;
  // Asked again after each new subscription, not for every burst (the broker
  // scans every connected client's filters); a peer that left meanwhile only
  // costs bursts nobody reads.
  let othersListen: Promise<boolean> | undefined;
  const stopOthersListenCheck = broker?.onSubscribe(() => {
    othersListen = undefined;
  });
  // With an external broker, the other gateways announce themselves (peers.ts).
  const peers = broker ? undefined : createGatewayPeers({ bus, topic: `${prefix}/gateway/peers`, logger });
  const fanout = createFanOut({
    bus,
    topic: fanoutTopic,
    origin: bus.clientId,
    logger,
    // Bursts nobody else listens to are not sent (only this process would get them back):
    // the embedded broker knows its sessions' subscriptions; an external one's peers announce themselves.
    othersListen: broker
      ? () => (othersListen ??= broker.hasSubscriberOtherThan(fanoutTopic, bus.clientId))
      : () => Promise.resolve(peers!.othersPresent()),
  });
  const catalogue = createCatalogue({
    db: database.db,
    logger,
    tenant,
    tenantOf: agents.tenantOf,
    legacyAxonToken: config.SYNAPSE_LEGACY_AXON_TOKEN,
    onRejected: (code) => rejectedSnapshots.inc({ reason: code }),
    onChanged: (service) => fanout.publish({ kind: 'service', tenant: service.tenant, service }),
  });
  let relay: Relay | undefined;
  let kickScheduled = false;
  // Row versions of runs written here in one statement: the ingest writes an Axon's next event without reading the run.
  const runVersions = createRunVersions();
  const runs = createRunService({
    db: database.db,
    runVersions,
    logger,
    catalogue,
    topicPrefix: prefix,
    newId,
    newTraceId: () => newTraceId(idRandom),
    now: Date.now,
    heartbeatTimeoutS: config.SYNAPSE_HEARTBEAT_TIMEOUT_S,
    statusTtlS: config.SYNAPSE_STATUS_TTL_S,
    // After the current turn, so the mutation's response is written before the relay's claim.
    onOutbox: () => {
      if (kickScheduled) return;
      kickScheduled = true;
      setImmediate(() => {
        kickScheduled = false;
        relay?.kick();
      });
    },
    outboxRelay: {
      lease: () => relay?.lease() ?? null,
      handOff: (command) => relay?.handOff(command),
    },
    onStoredInTx: webhooks.onStoredInTx,
    onRunChanged: (run) => {
      webhooks.afterCommit();
      triggeredRuns.inc({ origin: run.origin });
      fanout.publish({ kind: 'run', tenant: run.tenant, run });
    },
  });
  const runChanged = (run: RunRow) => {
    runs.notifyChanged(run);
    fanout.publish({ kind: 'run', tenant: run.tenant, run });
  };
  const eventStored = (event: RunEventRow, run: RunRow) => {
    webhooks.afterCommit();
    storedEvents.inc();
    fanout.publish({ kind: 'event', tenant: run.tenant, runId: run.id, serviceId: run.serviceId, event });
  };
  const ingest = createEventIngest({
    db: database.db,
    logger,
    newId,
    now: Date.now,
    onRejected: (code) => rejectedEvents.inc({ reason: code }),
    onEvent: eventStored,
    onRunChanged: runChanged,
    onStoredInTx: webhooks.onStoredInTx,
    runVersions,
    dispatches: {
      dispatching: (runId) => relay?.dispatching(runId),
      take: (runId) => relay?.takeDispatch(runId),
      giveBack: (taken) => relay?.giveBack(taken),
      written: (taken) => relay?.written(taken),
    },
    // PGlite aborted on large batches and has one connection. On Postgres two
    // transactions overlap: the next batch's BEGIN and run locks go out while
    // the previous batch writes, so its locks are granted as that one commits
    // (docs/benchmarks.md, "Ingest pass 2").
    ...(database.driver === 'postgres' ? { maxBatch: EVENT_INGEST_LIMITS.maxBatchPostgres, concurrency: 2 } : {}),
  });
  // Other gateways' run changes wake this process's waiters too.
  fanout.subscribe((change) => {
    if (change.kind === 'run') runs.notifyChanged(change.run);
    else if (change.kind === 'service') catalogue.remember(change.service);
  });
  relay = createRelay({
    db: database.db,
    bus,
    logger,
    owner: bus.clientId,
    newId,
    now: Date.now,
    paused: config.SYNAPSE_OUTBOX_PAUSED,
    ...(broker ? { hasSubscriber: (topic: string) => broker.hasSubscriber(topic) } : {}),
    onPublished: (count) => publishedCommands.inc(count),
    onRunChanged: runChanged,
    onEvent: eventStored,
    onStoredInTx: webhooks.onStoredInTx,
    runVersions,
    // A quick Axon's answer then writes the command's `dispatched` record with
    // its own event, in one statement instead of two in a row.
    deferMarkMs: DEFER_DISPATCHED_MS,
  });
  const activeRelay = relay;

  await bus.subscribe(`${prefix}/discovery/+`, async (topic, payload) => {
    await catalogue.ingest(topic.slice(`${prefix}/discovery/`.length), payload);
  });
  if (broker) {
    // The embedded broker hands events over before acknowledging them.
    messagingHooks.storeEvent = async (serviceId, payload) => {
      await ingest.ingestBytes(serviceId, payload);
    };
  } else {
    await bus.subscribe(`${prefix}/event/+`, async (topic, payload) => {
      await ingest.ingestBytes(topic.slice(`${prefix}/event/`.length), payload);
    });
  }
  await fanout.start();
  await peers?.start();
  bus.sealSubscriptions();
  const live = createLiveHub(fanout);
  const sweeper = createSweeper({ db: database.db, ingest, logger, now: Date.now });
  const stopOnConnect = bus.onConnect(() => activeRelay.kick());
  const stopOnSubscribe = broker?.onSubscribe(() => activeRelay.kick());

  // Timers: offline detection well inside 1 s, and a periodic relay pass for
  // rows another process left behind (expired leases).
  const timers = [
    setInterval(() => {
      catalogue.sweepOffline().catch((error: unknown) => logger.warn({ err: String(error) }, 'offline sweep failed; retrying'));
    }, config.SYNAPSE_OFFLINE_SWEEP_MS),
    setInterval(() => activeRelay.kick(), 1_000),
    setInterval(() => {
      access.check().catch((error: unknown) => logger.warn({ err: String(error) }, 'key revocation check failed; retrying'));
    }, 1_000),
    setInterval(() => {
      sweeper.sweep().catch((error: unknown) => logger.warn({ err: String(error) }, 'run sweep failed; retrying'));
    }, config.SYNAPSE_RUN_SWEEP_MS),
  ];
  activeRelay.kick();
  webhooks.start();

  const triggerLimiter = createRateLimiter({
    rules: {
      key: { ratePerSecond: config.SYNAPSE_TRIGGER_RATE_PER_KEY, burst: config.SYNAPSE_TRIGGER_BURST_PER_KEY },
      ip: { ratePerSecond: config.SYNAPSE_TRIGGER_RATE_PER_IP, burst: config.SYNAPSE_TRIGGER_BURST_PER_IP },
    },
  });
  const { server, ws } = createHttpServer({
    schema,
    logger,
    metrics,
    graphiql: config.SYNAPSE_GRAPHIQL,
    jit: config.SYNAPSE_GRAPHQL_JIT,
    maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES,
    security: {
      introspection: config.SYNAPSE_INTROSPECTION,
      limits: {
        maxDepth: config.SYNAPSE_MAX_DEPTH,
        maxAliases: config.SYNAPSE_MAX_ALIASES,
        maxDirectives: config.SYNAPSE_MAX_DIRECTIVES,
        maxTokens: config.SYNAPSE_MAX_TOKENS,
        maxCost: config.SYNAPSE_MAX_COST,
      },
      persisted: { only: config.SYNAPSE_PERSISTED_ONLY, byHash: persistedOperations },
      triggerLimiter,
      wsMaxConnectionsPerIp: config.SYNAPSE_WS_MAX_CONNECTIONS_PER_IP,
      wsKeepAliveMs: config.SYNAPSE_WS_KEEPALIVE_MS,
    },
    authenticate: (authorization) => access.authenticate(authorization),
    watch: (principal, onEnded) => access.watch(principal, onEnded),
    restGuard: createRestGuard(access, agents),
    context: (principal, req) => ({
      principal,
      operatorTenant: tenant,
      access,
      keys,
      agents,
      audit,
      registry,
      actionConfigs,
      catalogue,
      runs,
      live,
      webhooks: webhooks.store,
      clientIp: req.socket.remoteAddress ?? null,
      // Triggers are limited per key as well as per address.
      rateLimitKey: principal.keyId,
    }),
    routes: (router) => {
      registerActionRoutes(router, { registry, audit, maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES });
      registerTriggerRoutes(router, { runs, maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES, limiter: triggerLimiter });
      registerEventRoutes(router, { ingest, maxBodyBytes: config.SYNAPSE_MAX_BODY_BYTES });
    },
    readiness: async () => {
      const ping = await withTimeout(
        database.ping().then(
          () => 'ok' as const,
          () => 'unreachable',
        ),
        2_000,
      );
      return { database: ping === 'timeout' ? 'timeout' : ping, mqtt: bus.isConnected() ? 'ok' : 'disconnected' };
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
    for (const timer of timers) clearInterval(timer);
    await activeRelay.stop();
    await webhooks.stop();
    await peers?.leave().catch(() => {});
    await messaging.close();
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
      for (const timer of timers) clearInterval(timer);
      stopOnConnect();
      stopOnSubscribe?.();
      stopOthersListenCheck?.();
      await activeRelay.stop();
      await webhooks.stop();
      // The others stop sending this gateway their changes.
      await peers?.leave().catch((error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'gateway presence not cleared; the others keep sending it their changes'));
      await messaging.close();
      await database.close();
    })();
    return closing;
  }

  return { url, port, database, metrics, broker, brokerUrl: messaging.brokerUrl, relay: activeRelay, clientId: bus.clientId, close };
}
