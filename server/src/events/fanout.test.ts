import { describe, expect, it } from 'vitest';
import { envelopeJson, envelopesJsonArray, knownEnvelopeJson } from './envelope-json.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import { type Change, changeJson, createFanOut } from './fanout.js';
import type { RunEventRow } from '../runs/events.js';

const revive = (key: string, value: unknown) => (key === 'time' || key === 'receivedAt') && typeof value === 'string' ? new Date(value) : value;

function eventChange(envelope: Record<string, unknown>): Change {
  const event: RunEventRow = {
    id: 7,
    runId: 'r1',
    seq: 3,
    tenant: 't',
    source: 'trn:synapse:t:service/s',
    eventId: 'e1',
    type: 'aionix.openact.action.progress',
    time: new Date('2026-01-02T03:04:05.678Z'),
    state: 'running',
    reason: null,
    data: envelope.data,
    envelope,
    receivedAt: new Date('2026-01-02T03:04:06.000Z'),
  };
  return { kind: 'event', tenant: 't', runId: 'r1', serviceId: 's', event };
}

describe('changeJson', () => {
  it('gives the value JSON.stringify gives, with or without a known envelope text', () => {
    const envelope = { id: 'e1', time: '2026-01-02T03:04:05.678Z', data: { status: 'running', progress: 0.5, message: 'a "quoted" \u2028 line' } };
    const change = eventChange(envelope);
    const plain = JSON.stringify(change);
    expect(knownEnvelopeJson(envelope)).toBeUndefined();
    expect(changeJson(change)).toBe(plain);
    envelopeJson(envelope);
    const spliced = changeJson(change);
    expect(spliced).not.toBe(plain);
    expect(JSON.parse(spliced, revive)).toEqual(JSON.parse(plain, revive));
  });

  it('writes timestamps as JSON.stringify does, invalid ones as null', () => {
    const envelope = { id: 'e2', data: { status: 'x' } };
    envelopeJson(envelope);
    const change = eventChange(envelope);
    if (change.kind !== 'event') throw new Error('an event change');
    change.event.receivedAt = new Date(Number.NaN);
    expect(JSON.parse(changeJson(change))).toEqual(JSON.parse(JSON.stringify(change)));
    expect(JSON.parse(changeJson(change)).event.receivedAt).toBeNull();
  });

  it('leaves run and service changes to JSON.stringify', () => {
    const change = { kind: 'run', tenant: 't', run: { id: 'r1', state: 'running' } } as unknown as Change;
    expect(changeJson(change)).toBe(JSON.stringify(change));
  });
});

describe('envelopesJsonArray', () => {
  it('is the JSON array of the envelopes, and remembers each text', () => {
    const a = { id: 'a', data: { status: 'x' } };
    const b = { id: 'b', data: { status: 'y', note: '\\ "' } };
    expect(JSON.parse(envelopesJsonArray([a, b]))).toEqual([a, b]);
    expect(envelopesJsonArray([])).toBe('[]');
    expect(knownEnvelopeJson(a)).toBe(JSON.stringify(a));
    expect(envelopeJson(b)).toBe(JSON.stringify(b));
  });
});

describe('createFanOut othersListen', () => {
  const logger = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as unknown as Logger;
  const setup = (answers: boolean[]) => {
    const published: string[] = [];
    const bus = { publish: async (_topic: string, payload: string | Buffer) => void published.push(String(payload)) } as unknown as MqttBus;
    const fanout = createFanOut({ bus, topic: 'p/gateway/fanout', origin: 'gw-1', logger, othersListen: async () => answers.shift() ?? true });
    const delivered: Change[] = [];
    fanout.subscribe((c) => delivered.push(c));
    return { fanout, published, delivered };
  };
  const run = (id: string) => ({ kind: 'run', tenant: 't', run: { id } }) as unknown as Change;
  const turn = () => new Promise((r) => setImmediate(r));

  it('delivers locally always, and sends a burst only when others listen, in order', async () => {
    const { fanout, published, delivered } = setup([false, true]);
    fanout.publish(run('a'));
    await turn();
    fanout.publish(run('b'));
    fanout.publish(run('c'));
    await turn();
    await turn();
    expect(delivered.map((c) => (c.kind === 'run' ? c.run.id : ''))).toEqual(['a', 'b', 'c']);
    expect(published).toHaveLength(1);
    expect(JSON.parse(published[0]!)).toEqual({ origin: 'gw-1', changes: [run('b'), run('c')] });
  });

  it('sends when the check fails', async () => {
    const published: string[] = [];
    const bus = { publish: async (_topic: string, payload: string | Buffer) => void published.push(String(payload)) } as unknown as MqttBus;
    const fanout = createFanOut({ bus, topic: 'p/gateway/fanout', origin: 'gw-1', logger, othersListen: () => Promise.reject(new Error('down')) });
    fanout.publish(run('a'));
    await turn();
    await turn();
    expect(published).toHaveLength(1);
  });
});
