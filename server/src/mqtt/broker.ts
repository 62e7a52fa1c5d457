// The embedded MQTT broker (aedes) that `npm start` runs when MQTT_URL is unset,
// so Axons have a broker to talk to with no other software. Sockets are
// created with no-delay: with Nagle on, every QoS 1 round trip costs ~44 ms.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import type { Logger } from '../observability/logger.js';
import type { BrokerSecurity } from './acl.js';
import { inProcessPair } from './in-process.js';

/**
 * Where a refused publish goes: nobody subscribes to it (clients may not), so the
 * publish is acknowledged and dropped, as Mosquitto does. Refusing with an error
 * would make aedes close the connection, and an Axon's client would send the same
 * unacknowledged QoS 1 publish again after reconnecting, forever.
 */
export const REFUSED_TOPIC = '$synapse/refused';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  logger: Logger;
  /**
   * Runs before the broker acknowledges a client's publish on a matching topic
   * (QoS 1: the PUBACK waits for it). A rejection disconnects the client
   * without acknowledging, so it publishes again after reconnecting.
   */
  beforeAck?: { filter: (topic: string) => boolean; handle: (topic: string, payload: Buffer) => Promise<void> };
  /** Authentication and the per-client ACL (acl.ts); without it every client may do anything. */
  security?: BrokerSecurity;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  aedes: Aedes;
  /** Calls `listener` whenever a client subscribes (across stop/start). Returns an unsubscribe. */
  onSubscribe(listener: () => void): () => void;
  /** True when some session (live or persisted) subscribes to a topic matching `topic`. */
  hasSubscriber(topic: string): Promise<boolean>;
  /** The same, counting only sessions of clients other than `clientId`. */
  hasSubscriberOtherThan(topic: string, clientId: string): Promise<boolean>;
  /** The clients connected now. */
  clients(): Client[];
  /**
   * A connection to the broker within this process (the gateway's own client):
   * one end of an in-memory stream pair whose other end the broker serves. Ends
   * at once while the broker is stopped, and with it.
   */
  connectInProcess(): Duplex;
  /** Stops accepting and drops every client; sessions are kept for `start()`. */
  stop(): Promise<void>;
  /** Starts again on the same port, with the same sessions. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export class BrokerStartError extends Error {
  override name = 'BrokerStartError';
}

type Persistence = { subscriptionsByTopic(topic: string): Promise<unknown[]> | unknown };
type ClientWithSubscriptions = { id?: string; subscriptions?: Record<string, unknown> };

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { logger, security } = options;
  const { default: createPersistence } = (await import('aedes-persistence')) as unknown as { default: () => Persistence };
  // One persistence for the life of the process: a stop/start keeps sessions
  // and queued QoS 1 messages, as a real broker with persistence would.
  const persistence = createPersistence();
  const subscribeListeners = new Set<() => void>();
  const create = async () => {
    const instance = await Aedes.createBroker({
      persistence,
      drainTimeout: 30_000,
      heartbeatInterval: 60_000,
      ...(security ? securityHooks(security) : {}),
      authorizePublish: (client, packet, callback) => {
        if (security && !security.mayPublish(client, packet.topic)) {
          packet.topic = REFUSED_TOPIC;
          packet.retain = false;
          return callback(null);
        }
        const hook = options.beforeAck;
        if (!client || !hook || !hook.filter(packet.topic)) return callback(null);
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        // QoS 1: the PUBACK still waits for the hook (the event's commit), but
        // the client's next packets are read meanwhile, so they join the next batch.
        const release = packet.qos === 1 ? readOn(client, payload.length) : undefined;
        hook.handle(packet.topic, payload).then(
          () => {
            release?.();
            callback(null);
          },
          (error: unknown) => {
            release?.();
            callback(error instanceof Error ? error : new Error(String(error)));
          },
        );
      },
    });
    instance.on('subscribe', () => {
      for (const listener of subscribeListeners) listener();
    });
    instance.on('clientError', (client, error) => logger.debug({ client: client?.id, err: error.message }, 'mqtt client error'));
    return instance;
  };
  let aedes = await create();
  let server: Server | undefined;
  let port = options.port;
  const sockets = new Set<Socket | Duplex>();

  async function listen(): Promise<void> {
    const current = aedes;
    const srv = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      current.handle(socket);
    });
    srv.listen(port, options.host);
    try {
      await Promise.race([
        once(srv, 'listening'),
        once(srv, 'error').then(([error]) => {
          throw error;
        }),
      ]);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        throw new BrokerStartError(`MQTT port ${port} on ${options.host} is in use: stop the other broker, set MQTT_PORT, or point MQTT_URL at it`);
      }
      throw new BrokerStartError(`could not start the embedded MQTT broker on ${options.host}:${port}: ${(error as Error).message}`);
    }
    port = (srv.address() as { port: number }).port;
    server = srv;
  }

  /** Whether a session of a client other than `except` subscribes to `topic`. */
  async function subscribed(topic: string, except: string | undefined): Promise<boolean> {
    const subs = await persistence.subscriptionsByTopic(topic);
    if (Array.isArray(subs) && subs.some((sub) => except === undefined || (sub as { clientId?: unknown }).clientId !== except)) return true;
    // Clean-session subscribers (an MVP Axon with paho's defaults) are not in the persistence: ask the connected clients.
    const clients = Object.values((aedes as unknown as { clients: Record<string, ClientWithSubscriptions> }).clients);
    return clients.some((c) => (except === undefined || c.id !== except) && Object.keys(c.subscriptions ?? {}).some((filter) => topicMatches(filter, topic)));
  }

  await listen();
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  logger.info({ port }, 'embedded MQTT broker listening');

  async function stop(): Promise<void> {
    if (!server) return;
    const srv = server;
    server = undefined;
    const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  return {
    get url() {
      return `mqtt://${host}:${port}`;
    },
    get port() {
      return port;
    },
    get aedes() {
      return aedes;
    },
    onSubscribe(listener) {
      subscribeListeners.add(listener);
      return () => subscribeListeners.delete(listener);
    },
    hasSubscriber: (topic) => subscribed(topic, undefined),
    hasSubscriberOtherThan: (topic, clientId) => subscribed(topic, clientId),
    clients() {
      return Object.values((aedes as unknown as { clients: Record<string, Client> }).clients);
    },
    connectInProcess() {
      const [client, served] = inProcessPair();
      if (!server) {
        process.nextTick(() => client.destroy());
        return client;
      }
      sockets.add(served);
      served.once('close', () => sockets.delete(served));
      aedes.handle(served as unknown as Socket);
      return client;
    },
    stop,
    async start() {
      if (server) return;
      aedes = await create();
      await listen();
    },
    close: stop,
  } as EmbeddedBroker;
}

/** Publishes of one client whose PUBACK is held while the client's next packets are read: at most this many, and bytes of payload. */
export const READ_AHEAD_LIMITS = { maxPackets: 2_000, maxBytes: 16 * 1024 * 1024 } as const;

/** aedes 1.2 Client internals used by readOn (lib/client.js: `enqueue` and `nextBatch`). */
interface ClientReadState {
  _parsingBatch?: number;
  _nextBatch?: (error?: Error) => void;
  _paused?: boolean;
  closed?: boolean;
  synapseReadAhead?: { packets: number; bytes: number };
}

/**
 * aedes handles the packets of one socket read concurrently, but reads the
 * client's next bytes only once every packet of the read is done, and a QoS 1
 * publish is done after its PUBACK, which waits for the event's commit: one
 * transaction per socket read, the Axon idle meanwhile. This counts a publish
 * whose PUBACK is held as done for reading (aedes' own `nextBatch`, a turn
 * later, outside the parser), within READ_AHEAD_LIMITS per client, and puts it
 * back just before aedes completes it, so aedes' count stays balanced. The
 * PUBACK itself is still written only after the hook, in the hook's order.
 * Returns undefined when aedes' internals are not as expected (reads as before).
 */
function readOn(client: Client, bytes: number): (() => void) | undefined {
  const state = client as unknown as ClientReadState;
  if (typeof state._parsingBatch !== 'number' || typeof state._nextBatch !== 'function') return undefined;
  const ahead = (state.synapseReadAhead ??= { packets: 0, bytes: 0 });
  if (ahead.packets >= READ_AHEAD_LIMITS.maxPackets || ahead.bytes + bytes > READ_AHEAD_LIMITS.maxBytes) return undefined;
  ahead.packets += 1;
  ahead.bytes += bytes;
  let phase: 'waiting' | 'released' | 'cancelled' = 'waiting';
  setImmediate(() => {
    if (phase !== 'waiting' || state._paused || state.closed) {
      phase = 'cancelled';
      return;
    }
    phase = 'released';
    state._nextBatch!();
  });
  return () => {
    ahead.packets -= 1;
    ahead.bytes -= bytes;
    if (phase === 'released') state._parsingBatch! += 1;
    phase = 'cancelled';
  };
}

/** aedes hooks for authentication and the subscribe/forward ACL (publish is checked with the event hook above). */
function securityHooks(security: BrokerSecurity): Pick<AedesOptions, 'authenticate' | 'authorizeSubscribe' | 'authorizeForward'> {
  return {
    authenticate: (client, username, password, done) => {
      void security.authenticate(client, username, password).then((outcome) => {
        if (outcome.ok) return done(null, true);
        done(Object.assign(new Error(outcome.reason), { returnCode: outcome.code }), false);
      });
    },
    // null: a failure code (0x80) in the SUBACK; the connection stays.
    authorizeSubscribe: (client, subscription, done) => (security.maySubscribe(client, subscription.topic) ? done(null, subscription) : done(null, null)),
    authorizeForward: (client, packet) => (security.mayReceive(client, packet.topic) ? packet : null),
  };
}

/** MQTT topic filter matching (`+` one level, `#` the rest; `$` topics only match filters that name them). */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
