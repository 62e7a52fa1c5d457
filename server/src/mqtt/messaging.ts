// Brings up the gateway's MQTT side: the embedded broker when MQTT_URL is
// unset, the gateway's own client, and the start-up latency check.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { GatewayConfig } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { connectBus, type MqttBus } from './bus.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker.js';
import { createBrokerSecurity, type MqttAgentCredentials } from './acl.js';

export interface Messaging {
  bus: MqttBus;
  /** Present when the gateway runs its own broker. */
  broker: EmbeddedBroker | undefined;
  /** The broker URL Axons should use. */
  brokerUrl: string;
  close(): Promise<void>;
}

/** A client id stable across restarts of the same gateway (same host, port and database), so its session resumes. */
export function gatewayClientId(config: GatewayConfig): string {
  if (config.MQTT_CLIENT_ID) return config.MQTT_CLIENT_ID;
  const identity = config.DATABASE_URL ?? path.resolve(config.SYNAPSE_DATA_DIR);
  const suffix = config.PORT === 0 ? randomBytes(4).toString('hex') : String(config.PORT);
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20) || 'host';
  return `synapse-gw-${host}-${suffix}-${createHash('sha256').update(identity).digest('hex').slice(0, 8)}`;
}

export const SLOW_ROUND_TRIP_MS = 20;

export interface MessagingHooks {
  /**
   * Embedded broker only: stores an Axon's event before the broker acknowledges
   * it, so an event acknowledged to an Axon is never lost with the process.
   * Set once the event ingest exists.
   */
  storeEvent?: (serviceId: string, payload: Buffer) => Promise<void>;
  /**
   * Embedded broker only: authentication and the per-Axon ACL (acl.ts). Without
   * it the embedded broker lets every client do anything.
   */
  security?: { isOpen: () => boolean; agents: MqttAgentCredentials };
}

/** How often the embedded broker drops connections no longer allowed (revoked credential, gateway secured). */
const SWEEP_MS = 2_000;

export async function startMessaging(config: GatewayConfig, logger: Logger, hooks: MessagingHooks = {}): Promise<Messaging> {
  let broker: EmbeddedBroker | undefined;
  let url = config.MQTT_URL;
  let credentials = { username: config.MQTT_USERNAME, password: config.MQTT_PASSWORD };
  let sweeper: NodeJS.Timeout | undefined;
  const clientId = gatewayClientId(config);
  if (!url) {
    const eventPrefix = `${config.MQTT_TOPIC_PREFIX}/event/`;
    const security = hooks.security
      ? createBrokerSecurity({ prefix: config.MQTT_TOPIC_PREFIX, isOpen: hooks.security.isOpen, agents: hooks.security.agents, gatewayClientId: clientId, logger })
      : undefined;
    // The gateway's own client uses the broker's in-process credential; MQTT_USERNAME/MQTT_PASSWORD are for an external broker.
    if (security) credentials = security.gatewayCredential;
    broker = await startEmbeddedBroker({
      ...(security ? { security } : {}),
      host: config.HOST,
      port: config.MQTT_PORT,
      logger,
      beforeAck: {
        filter: (topic) => topic.startsWith(eventPrefix),
        handle: async (topic, payload) => {
          // Events that arrive during start-up wait for the ingest rather than being acknowledged unstored.
          for (let waited = 0; !hooks.storeEvent; waited += 10) {
            if (waited > 30_000) throw new Error('event ingest not ready');
            await new Promise((r) => setTimeout(r, 10));
          }
          await hooks.storeEvent(topic.slice(eventPrefix.length), payload);
        },
      },
    });
    url = broker.url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://127.0.0.1:');
    if (security) {
      const running = broker;
      sweeper = setInterval(() => {
        security.sweep(running.clients()).catch((error: unknown) => logger.warn({ err: String(error) }, 'mqtt credential sweep failed; retrying'));
      }, SWEEP_MS);
      sweeper.unref();
    }
  }
  let bus: MqttBus;
  try {
    bus = await connectBus({
      url,
      clientId,
      logger,
      username: credentials.username,
      password: credentials.password,
      // The gateway's own client reaches its embedded broker without a socket.
      ...(broker ? { connectInProcess: broker.connectInProcess } : {}),
    });
  } catch (error) {
    clearInterval(sweeper);
    await broker?.close();
    throw error;
  }

  const rtt = await bus.measureRoundTrip(`${config.MQTT_TOPIC_PREFIX}/gateway/probe/${bus.clientId}`).catch(() => null);
  if (rtt !== null) {
    const roundTripMs = Math.round(rtt * 100) / 100;
    if (rtt > SLOW_ROUND_TRIP_MS) {
      logger.warn(
        { roundTripMs },
        broker
          ? `MQTT QoS 1 round trip to the embedded broker took ${roundTripMs} ms (> ${SLOW_ROUND_TRIP_MS} ms): the machine is probably overloaded`
          : `MQTT QoS 1 round trip took ${roundTripMs} ms (> ${SLOW_ROUND_TRIP_MS} ms): Nagle's algorithm is probably on at the broker; set set_tcp_nodelay true in mosquitto.conf (see docs/operations.md)`,
      );
    } else {
      logger.info({ roundTripMs }, 'MQTT QoS 1 round trip');
    }
  }

  return {
    bus,
    broker,
    brokerUrl: broker ? broker.url : url,
    async close() {
      clearInterval(sweeper);
      await bus.close().catch(() => {});
      await broker?.close();
    },
  };
}
