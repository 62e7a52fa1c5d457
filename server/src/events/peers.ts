// Which other gateways share an external broker, so that the fan-out
// (fanout.ts) neither serialises nor sends a burst that only this process
// would hear back. Each gateway keeps a retained presence message on
// `{prefix}/gateway/peers/{clientId}` while it runs and clears it (an empty
// retained message) when it stops. A gateway that crashed leaves its message
// behind, which errs on the safe side: the others keep publishing to it until
// it runs again and stops cleanly. No last will clears it: a gateway that
// lost its connection for a while still gets, from its persistent session,
// the changes the others published meanwhile.
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';

export interface GatewayPeersOptions {
  bus: MqttBus;
  /** `{prefix}/gateway/peers`: presence messages are published one level below it. */
  topic: string;
  logger: Logger;
  /** How long start() waits for its own presence to come back (ms); default 2,000. */
  settleMs?: number;
}

export interface GatewayPeers {
  /** Another gateway announced itself and has not left. */
  othersPresent(): boolean;
  /**
   * Subscribes, announces this gateway (again after every reconnect) and
   * waits until its own announcement comes back: the broker has then also
   * handed over every retained presence of the others.
   */
  start(): Promise<void>;
  /** Clears this gateway's presence (on a clean stop). */
  leave(): Promise<void>;
}

/** Presences remembered at most: only gateways may publish below `{prefix}/gateway/`, but a count stays bounded. */
export const MAX_PEERS = 1_000;

export function createGatewayPeers(options: GatewayPeersOptions): GatewayPeers {
  const { bus, topic, logger } = options;
  const self = bus.clientId;
  const ownTopic = `${topic}/${self}`;
  const peers = new Set<string>();
  let heardSelf: (() => void) | undefined;
  let left = false;
  // This run's announcement: a retained one from an earlier run of the same client id is not it.
  const announcement = JSON.stringify({ clientId: self, since: new Date().toISOString() });

  const announce = () => {
    if (left) return;
    bus.publish(ownTopic, announcement, 1, { retain: true }).catch((error: unknown) => {
      // Unannounced, the others may skip this gateway's fan-out until the next connect announces it.
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'gateway presence not published; announcing again on the next connect');
    });
  };

  return {
    othersPresent: () => peers.size > 0,
    async start() {
      await bus.subscribe(`${topic}/+`, async (heard, payload) => {
        const id = heard.slice(topic.length + 1);
        if (id === self) {
          if (payload.toString('utf8') === announcement) heardSelf?.();
          return;
        }
        if (payload.length === 0) peers.delete(id);
        else if (peers.has(id) || peers.size < MAX_PEERS) peers.add(id);
      });
      const settled = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), options.settleMs ?? 2_000);
        heardSelf = () => {
          clearTimeout(timer);
          heardSelf = undefined;
          resolve(true);
        };
      });
      bus.onConnect(announce);
      announce();
      if (!(await settled)) logger.warn({ topic: ownTopic }, 'gateway presence did not come back from the broker in time; other gateways may miss live changes until it does');
    },
    async leave() {
      left = true;
      await bus.publish(ownTopic, '', 1, { retain: true });
    },
  };
}
