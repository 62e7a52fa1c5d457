// Fan-out of live changes across gateway processes. Every process publishes
// what it committed on one MQTT topic and delivers what it hears (its own
// changes locally, at once) to its subscribers. Subscribers of run events
// never depend on this alone: they replay from the database and fill gaps.
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import type { RunEventRow, RunRow } from '../runs/events.js';
import type { ServiceRow } from '../services/catalogue.js';

export type Change =
  | { kind: 'event'; tenant: string; runId: string; serviceId: string; event: RunEventRow }
  | { kind: 'run'; tenant: string; run: RunRow }
  | { kind: 'service'; tenant: string; service: ServiceRow };

export type ChangeListener = (change: Change) => void;

export interface FanOut {
  /** Delivers locally now and to the other gateways through the broker. */
  publish(change: Change): void;
  subscribe(listener: ChangeListener): () => void;
  /** Starts listening to the other gateways. */
  start(): Promise<void>;
}

const DATE_KEYS = new Set(['time', 'receivedAt', 'createdAt', 'updatedAt', 'dispatchedAt', 'finishedAt', 'deadline', 'lastEventAt', 'lastSeen', 'offlineSince']);

/** JSON.parse reviver: the rows' timestamps come back as Dates. */
function revive(key: string, value: unknown): unknown {
  return DATE_KEYS.has(key) && typeof value === 'string' ? new Date(value) : value;
}

/** Changes per fan-out message at most: a burst is split so one message stays well under the broker's packet limit. */
const MAX_CHANGES_PER_MESSAGE = 200;

export function createFanOut(options: { bus: MqttBus; topic: string; origin: string; logger: Logger }): FanOut {
  const listeners = new Set<ChangeListener>();
  const deliver = (change: Change) => {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (error) {
        options.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'fan-out listener failed');
      }
    }
  };
  // Changes committed in the same event-loop turn (a batch of events, a
  // relay pass, many triggers under load) travel in one message: one publish
  // and one delivery back from the broker instead of one per change.
  let pending: Change[] = [];
  let scheduled = false;
  const send = () => {
    scheduled = false;
    const changes = pending;
    pending = [];
    for (let i = 0; i < changes.length; i += MAX_CHANGES_PER_MESSAGE) {
      // `origin` first: receivers recognise their own messages by this prefix without parsing them.
      const payload = JSON.stringify({ origin: options.origin, changes: changes.slice(i, i + MAX_CHANGES_PER_MESSAGE) });
      options.bus.publish(options.topic, payload, 1).catch((error: unknown) => {
        options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fan-out publish failed; other gateways catch up from the database');
      });
    }
  };
  const ownPrefix = Buffer.from(`{"origin":${JSON.stringify(options.origin)},`);
  return {
    publish(change) {
      deliver(change);
      pending.push(change);
      if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async start() {
      await options.bus.subscribe(options.topic, async (_topic, payload) => {
        // This process's own changes were delivered when they were published.
        if (payload.length > ownPrefix.length && payload.subarray(0, ownPrefix.length).equals(ownPrefix)) return;
        let message: { origin?: string; change?: Change; changes?: Change[] };
        try {
          message = JSON.parse(payload.toString('utf8'), revive) as typeof message;
        } catch {
          return;
        }
        if (message.origin === options.origin) return;
        // `change`: one change per message, as gateways before batching sent them.
        if (message.change) deliver(message.change);
        if (Array.isArray(message.changes)) for (const change of message.changes) if (change) deliver(change);
      });
    },
  };
}
