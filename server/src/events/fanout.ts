// Fan-out of live changes across gateway processes. Every process publishes
// what it committed on one MQTT topic and delivers what it hears (its own
// changes locally, at once) to its subscribers. Subscribers of run events
// never depend on this alone: they replay from the database and fill gaps.
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import type { RunEventRow, RunRow } from '../runs/events.js';
import type { ServiceRow } from '../services/catalogue.js';
import { knownEnvelopeJson } from './envelope-json.js';

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

/**
 * One change as JSON: what `JSON.stringify(change)` gives, up to the order of
 * the event's members. An event's envelope whose text the ingest already made
 * (envelope-json.ts) is spliced in as that text instead of being serialised
 * again (it is most of an event's bytes), and its two timestamps are written
 * as Date.toJSON would, outside JSON.stringify (whose slow path a Date takes).
 */
export function changeJson(change: Change): string {
  if (change.kind !== 'event') return JSON.stringify(change);
  const { event } = change;
  const { envelope } = event;
  const text = typeof envelope === 'object' && envelope !== null ? knownEnvelopeJson(envelope) : undefined;
  if (text === undefined) return JSON.stringify(change);
  // Member by member, not by rest patterns (`{ event, ...outer }`), which copy
  // an object about ten times slower; the types keep the lists complete.
  const outer: Omit<typeof change, 'event'> = { kind: change.kind, tenant: change.tenant, runId: change.runId, serviceId: change.serviceId };
  const rest: Omit<RunEventRow, 'envelope' | 'time' | 'receivedAt'> = {
    id: event.id,
    runId: event.runId,
    seq: event.seq,
    tenant: event.tenant,
    source: event.source,
    eventId: event.eventId,
    type: event.type,
    state: event.state,
    reason: event.reason,
    data: event.data,
  };
  const head = JSON.stringify(outer);
  const body = JSON.stringify(rest);
  return `${head.slice(0, -1)},"event":${body.slice(0, -1)},"time":${dateJson(event.time)},"receivedAt":${dateJson(event.receivedAt)},"envelope":${text}}}`;
}

/** A timestamp member's JSON, as JSON.stringify writes a Date (null when invalid). */
function dateJson(value: Date): string {
  if (!(value instanceof Date)) return JSON.stringify(value) ?? 'null';
  return Number.isNaN(value.getTime()) ? 'null' : `"${value.toISOString()}"`;
}

export interface FanOutOptions {
  bus: MqttBus;
  topic: string;
  origin: string;
  logger: Logger;
  /**
   * Whether any other gateway may listen (with the embedded broker: a session
   * of another client subscribes to the topic). When it answers false, a
   * burst of changes is neither serialised nor sent: the broker would only
   * hand it back to this process, which drops its own messages. Without it,
   * every burst is sent.
   */
  othersListen?: () => Promise<boolean>;
}

export function createFanOut(options: FanOutOptions): FanOut {
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
  // Bursts go out in the order they were committed, also while the listener check runs.
  let sending: Promise<void> = Promise.resolve();
  const publishBurst = (changes: Change[]) => {
    for (let i = 0; i < changes.length; i += MAX_CHANGES_PER_MESSAGE) {
      // `origin` first: receivers recognise their own messages by this prefix without parsing them.
      let payload = `{"origin":${JSON.stringify(options.origin)},"changes":[`;
      const end = Math.min(changes.length, i + MAX_CHANGES_PER_MESSAGE);
      for (let j = i; j < end; j++) payload += (j === i ? '' : ',') + changeJson(changes[j]!);
      payload += ']}';
      options.bus.publish(options.topic, payload, 1).catch((error: unknown) => {
        options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fan-out publish failed; other gateways catch up from the database');
      });
    }
  };
  const send = () => {
    scheduled = false;
    const changes = pending;
    pending = [];
    const othersListen = options.othersListen;
    if (!othersListen) return publishBurst(changes);
    sending = sending
      .then(() => othersListen().catch(() => true))
      .then((listening) => {
        if (listening) publishBurst(changes);
      })
      .catch((error: unknown) => options.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'fan-out publish failed; other gateways catch up from the database'));
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
