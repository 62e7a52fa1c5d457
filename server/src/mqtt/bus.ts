// The gateway's MQTT client: a persistent session (clean: false, a stable
// client id) that reconnects with backoff and resubscribes. Incoming QoS 1
// messages are acknowledged only after their handler resolves, so a crash
// between receive and commit loses nothing: the broker redelivers.
import type { Duplex } from 'node:stream';
import mqtt, { type IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../observability/logger.js';
import { mqttClientLog } from './client-log.js';

export type MessageHandler = (topic: string, payload: Buffer) => Promise<void>;

/** Messages kept for handlers not registered yet (a resumed session's backlog arrives first). */
const MAX_UNROUTED = 100_000;

export const MQTT_BUS_LIMITS = {
  /**
   * QoS 1 messages handed to handlers and not acknowledged yet. At the limit
   * the client reads no further until one is: the broker holds the rest (the
   * session is persistent), instead of this process holding a burst as large
   * as the broker's in-flight window (thousands of events waiting for the
   * ingest, each a young object the GC copies). Two of the ingest's largest
   * batches (500 events on Postgres): one being stored, the next one waiting.
   */
  maxUnacknowledged: 1_000,
} as const;

export interface MqttBusOptions {
  url: string;
  clientId: string;
  logger: Logger;
  username?: string | undefined;
  password?: string | undefined;
  /** Reconnect backoff: first delay and cap, in ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * The embedded broker's in-process connection (broker.ts): used instead of
   * `url`, on every (re)connect. `url` still names the broker in logs.
   */
  connectInProcess?: () => Duplex;
  /** MQTT_BUS_LIMITS.maxUnacknowledged unless given. */
  maxUnacknowledged?: number;
}

export interface MqttBus {
  readonly clientId: string;
  isConnected(): boolean;
  /** Resolves once the broker acknowledged (PUBACK) a QoS 1 publish. `retain`: the broker keeps it for later subscribers. */
  publish(topic: string, payload: string | Buffer, qos?: 0 | 1, options?: { retain?: boolean }): Promise<void>;
  /** Subscribes now and after every reconnect; the handler's promise gates the PUBACK. */
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  /** Every handler is registered: messages for none of them are acknowledged and dropped from now on. */
  sealSubscriptions(): void;
  onConnect(listener: () => void): () => void;
  /** One QoS 1 publish to a probe topic, timed; null when not connected. */
  measureRoundTrip(topic: string): Promise<number | null>;
  close(): Promise<void>;
}

/** Matches an MQTT topic against a filter with `+` and `#` wildcards. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** mqtt.js's debug log, decided once: DEBUG does not change while the process runs. */
const clientLog = mqttClientLog(process.env.DEBUG);

export async function connectBus(options: MqttBusOptions): Promise<MqttBus> {
  const { logger } = options;
  const minDelay = options.reconnectMinMs ?? 250;
  const maxDelay = options.reconnectMaxMs ?? 10_000;
  const subscriptions = new Map<string, MessageHandler>();
  const connectListeners = new Set<() => void>();
  let closing = false;

  // A fresh options object per client: mqtt.js writes its state back into it.
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    clean: false,
    reconnectPeriod: minDelay,
    connectTimeout: 10_000,
    keepalive: 30,
    resubscribe: true,
    queueQoSZero: false,
    protocolVersion: 4,
    log: clientLog,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: options.password } : {}),
  };
  const client: MqttClient = options.connectInProcess
    ? new MqttClient(options.connectInProcess as unknown as ConstructorParameters<typeof MqttClient>[0], { ...clientOptions, protocol: 'mqtt' })
    : mqtt.connect(options.url, clientOptions);

  // Acknowledge after processing, without processing one message at a time:
  // mqtt.js sends a PUBACK as soon as handleMessage calls back, and reads the
  // next packet only after that. We call back at once (below a limit: flow
  // control, further down) and hold the PUBACK (intercepted below) until the
  // handler's promise resolves, so messages pipeline into batches while each
  // is acknowledged only once stored.
  const heldAcks = new Map<number, Promise<void>>();
  let generation = 0;
  type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: () => void, ...rest: unknown[]) => void;
  const internals = client as unknown as { _sendPacket: SendPacket };
  const sendPacket = internals._sendPacket.bind(client);
  internals._sendPacket = (packet, cb, ...rest) => {
    const held = packet.cmd === 'puback' && packet.messageId !== undefined ? heldAcks.get(packet.messageId) : undefined;
    if (!held) return sendPacket(packet, cb, ...rest);
    heldAcks.delete(packet.messageId!);
    const sentOn = generation;
    cb?.();
    void held.then(() => {
      // After a reconnect the broker redelivers instead; an old id must not be acknowledged.
      if (sentOn === generation && client.connected) sendPacket(packet);
    });
  };

  // A resumed session delivers what the broker kept as soon as we connect,
  // before the gateway has registered its handlers: such messages wait
  // (unacknowledged) for their handler instead of being acknowledged unread.
  const unrouted: Array<{ topic: string; payload: Buffer; resolve: () => void }> = [];
  let sealed = false;

  // The handler of each topic seen, so a stream of events on one topic is not
  // matched against every filter per message. Cleared when a filter is added.
  const routes = new Map<string, MessageHandler>();
  const ROUTES_LIMIT = 4_096;
  const routeOf = (topic: string): MessageHandler | undefined => {
    const known = routes.get(topic);
    if (known) return known;
    for (const [filter, candidate] of subscriptions) {
      if (topicMatches(filter, topic)) {
        if (routes.size >= ROUTES_LIMIT) routes.clear();
        routes.set(topic, candidate);
        return candidate;
      }
    }
    return undefined;
  };

  // Flow control: mqtt.js reads the next packet only once handleMessage calls
  // back. Past the limit that call waits for an acknowledgement to go out.
  // A pause longer than the keepalive lets mqtt.js reconnect (it reads no
  // PINGRESP meanwhile); the persistent session keeps what was not acknowledged.
  const maxUnacknowledged = Math.max(1, options.maxUnacknowledged ?? MQTT_BUS_LIMITS.maxUnacknowledged);
  let unacknowledged = 0;
  let readNext: (() => void) | undefined;
  const acknowledged = () => {
    unacknowledged -= 1;
    if (readNext && unacknowledged < maxUnacknowledged) {
      const resume = readNext;
      readNext = undefined;
      resume();
    }
  };

  client.handleMessage = (packet, done) => {
    const handler = routeOf(packet.topic);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    let processed: Promise<void>;
    if (handler) processed = processWithRetry(handler, packet.topic, payload);
    else if (!sealed && unrouted.length < MAX_UNROUTED) processed = new Promise((resolve) => unrouted.push({ topic: packet.topic, payload, resolve }));
    else return done();
    if (packet.qos === 1 && packet.messageId !== undefined) {
      heldAcks.set(packet.messageId, processed);
      unacknowledged += 1;
      void processed.then(acknowledged);
      if (unacknowledged < maxUnacknowledged) done();
      else readNext = done;
    } else {
      void processed.then(() => done());
    }
  };

  /**
   * Handlers reject only when the gateway cannot store a message (e.g. the
   * database is down): keep it unacknowledged and retry, so the broker holds it
   * and nothing is lost; later messages wait behind it.
   */
  async function processWithRetry(handler: MessageHandler, topic: string, payload: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(topic, payload);
        return;
      } catch (error) {
        logger.error({ topic, attempt, err: error instanceof Error ? error.message : String(error) }, 'mqtt message not stored yet; retrying before acknowledging');
        if (closing) return new Promise<void>(() => {});
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  }

  let delay = minDelay;
  client.on('connect', (connack) => {
    // mqtt.js leaves Nagle on; every small QoS 1 publish would wait for it.
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    generation += 1;
    // The continuation of a connection that is gone: never called, so no
    // acknowledgement of the old session goes out on the new one.
    readNext = undefined;
    delay = minDelay;
    client.options.reconnectPeriod = minDelay;
    logger.info({ clientId: options.clientId, sessionPresent: connack.sessionPresent }, 'mqtt connected');
    const filters = [...subscriptions.keys()];
    if (filters.length > 0) {
      client.subscribe(
        filters.map((f) => f),
        { qos: 1 },
        (error) => error && logger.error({ err: error.message }, 'mqtt resubscribe failed'),
      );
    }
    for (const listener of connectListeners) listener();
  });
  client.on('reconnect', () => {
    // Exponential backoff with full jitter between attempts.
    delay = Math.min(maxDelay, delay * 2);
    client.options.reconnectPeriod = Math.round(minDelay + Math.random() * delay);
  });
  client.on('offline', () => logger.warn({ url: redact(options.url) }, 'mqtt offline; reconnecting with backoff'));
  client.on('error', (error) => logger.warn({ err: error.message }, 'mqtt error'));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      client.end(true);
      reject(new Error(`could not connect to the MQTT broker at ${redact(options.url)} within 10 s: check MQTT_URL and that the broker runs`));
    }, 10_000);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
    };
    client.on('connect', onConnect);
  });

  return {
    clientId: options.clientId,
    isConnected: () => client.connected,
    async publish(topic, payload, qos = 1, publishOptions) {
      await client.publishAsync(topic, payload, publishOptions?.retain ? { qos, retain: true } : { qos });
    },
    async subscribe(filter, handler) {
      subscriptions.set(filter, handler);
      routes.clear();
      for (let i = 0; i < unrouted.length; ) {
        const waiting = unrouted[i]!;
        if (!topicMatches(filter, waiting.topic)) {
          i++;
          continue;
        }
        unrouted.splice(i, 1);
        void processWithRetry(handler, waiting.topic, waiting.payload).then(waiting.resolve);
      }
      if (client.connected) await client.subscribeAsync(filter, { qos: 1 });
    },
    sealSubscriptions() {
      sealed = true;
      if (unrouted.length > 0) logger.warn({ count: unrouted.length, topics: [...new Set(unrouted.map((u) => u.topic))].slice(0, 5) }, 'mqtt messages on topics the gateway no longer handles: acknowledged and dropped');
      for (const waiting of unrouted.splice(0)) waiting.resolve();
    },
    onConnect(listener) {
      connectListeners.add(listener);
      return () => connectListeners.delete(listener);
    },
    async measureRoundTrip(topic) {
      // The best of three: the first publish on a cold path is slow for reasons other than Nagle.
      let best: number | null = null;
      for (let i = 0; i < 3 && client.connected; i++) {
        const started = performance.now();
        await client.publishAsync(topic, 'ping', { qos: 1 });
        const took = performance.now() - started;
        best = best === null ? took : Math.min(best, took);
      }
      return best;
    },
    async close() {
      closing = true;
      // A broker that is away would keep a graceful end waiting for acknowledgements.
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        client.endAsync().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2_000))),
      ]);
      clearTimeout(timer);
      if (!ended) await client.endAsync(true);
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/g, '//***@');
}
