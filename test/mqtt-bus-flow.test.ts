// The gateway's MQTT client stops reading at its limit of unacknowledged QoS 1
// messages and reads on as they are acknowledged: the broker holds the rest.
// Real broker: MQTT_URL (Mosquitto) when set, else the embedded broker.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedBroker, startEmbeddedBroker } from '../server/src/mqtt/broker.js';
import { connectBus, type MqttBus } from '../server/src/mqtt/bus.js';
import { createLogger } from '../server/src/observability/logger.js';
import { eventually } from './helpers/wait.js';

const logger = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));

let broker: EmbeddedBroker | undefined;
let url: string;

beforeAll(async () => {
  if (process.env.MQTT_URL) url = process.env.MQTT_URL;
  else {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
    url = broker.url;
  }
});
afterAll(async () => {
  await broker?.close();
});

describe('MQTT bus flow control', () => {
  it.each([
    { limit: 1, messages: 6 },
    { limit: 4, messages: 20 },
  ])('holds at most $limit unacknowledged of $messages QoS 1 messages, then reads on', async ({ limit, messages }) => {
    const topic = `synapse-test-${randomBytes(4).toString('hex')}/flow`;
    const received: string[] = [];
    const pending: Array<() => void> = [];
    let most = 0;
    const clientId = `synapse-flow-${randomBytes(4).toString('hex')}`;
    const bus: MqttBus = await connectBus({ url, clientId, logger, maxUnacknowledged: limit });
    const sender = await mqtt.connectAsync(url, { clientId: `synapse-flow-sender-${randomBytes(4).toString('hex')}`, clean: true });
    try {
      await bus.subscribe(`${topic}/#`, async (_topic, payload) => {
        received.push(payload.toString());
        await new Promise<void>((resolve) => pending.push(resolve));
      });
      bus.sealSubscriptions();
      // Sent without waiting for each PUBACK: the broker takes them all.
      await Promise.all(Array.from({ length: messages }, (_, i) => sender.publishAsync(`${topic}/m`, String(i), { qos: 1 })));

      await eventually(() => received.length === limit, 5_000, 'the first messages');
      await sleep(300);
      // At the limit: nothing more is read while none is acknowledged.
      expect(received).toHaveLength(limit);

      // Acknowledge one at a time: each acknowledgement lets one more in.
      while (received.length < messages || pending.length > 0) {
        most = Math.max(most, pending.length);
        const before = received.length;
        pending.shift()?.();
        if (before < messages) await eventually(() => received.length === before + 1, 5_000, `message ${before + 1}`);
      }
      expect(most).toBe(limit);
      expect(received).toEqual(Array.from({ length: messages }, (_, i) => String(i)));
    } finally {
      await sender.endAsync();
      await bus.close();
      // The bus's session is persistent: a clean connection under its id ends it on the broker.
      await (await mqtt.connectAsync(url, { clientId, clean: true })).endAsync();
    }
  });
});
