import { describe, expect, it } from 'vitest';
import {
  buildEventEnvelope,
  buildGatewayEvent,
  EVENT_SHORT_TYPES,
  eventType,
  EventEnvelopeSchema,
  fastAxonEnvelope,
  parseEventBytes,
  parseEventEnvelope,
  shortEventType,
  type BuildGatewayEventParams,
} from './event.js';
import { uuidv7 } from './ids.js';

type Json = Record<string, any>; // test fixtures only

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

/** An event an Axon sends on synapse/v1/event/memory-sidecar-python. */
function axonEvent(): Json {
  return {
    specversion: '1.0',
    id: '018fb2e1-0000-7000-8000-000000000001',
    source: 'trn:synapse:acme:service/memory-sidecar-python',
    type: 'aionix.openact.action.succeeded',
    time: '2025-10-10T12:36:20Z',
    datacontenttype: 'application/json',
    data: { status: 'succeeded', durationMs: 480, output: { freedMiB: 128 } },
    aionixSchemaVersion: '1.1.0',
    tenant: 'acme',
    traceId: TRACE,
    resourceTrn: 'trn:synapse:acme:action/memory-sidecar-python/drop_cache',
    runId: 'run-1',
    correlationId: '018fb0c2-0000-7000-8000-000000000001',
  };
}
const EV = (mutate: (e: Json) => void): Json => {
  const e = axonEvent();
  mutate(e);
  return e;
};

describe('event types', () => {
  it.each(EVENT_SHORT_TYPES.map((t) => [t]))('%s round-trips', (t) => {
    expect(shortEventType(eventType(t))).toBe(t);
  });
  it.each([['aionix.openact.action.exploded'], ['synapse.action.succeeded'], [3]])('%s is unknown', (t) => {
    expect(shortEventType(t)).toBeNull();
  });
});

describe('parseEventEnvelope', () => {
  it('normalises an Axon event', () => {
    const r = parseEventEnvelope(axonEvent(), { topicServiceId: 'memory-sidecar-python' });
    expect(r.ok).toBe(true);
    if (r.ok) {
      const { envelope, ...rest } = r.value;
      expect(rest).toEqual({
        id: '018fb2e1-0000-7000-8000-000000000001',
        source: 'trn:synapse:acme:service/memory-sidecar-python',
        serviceId: 'memory-sidecar-python',
        tenant: 'acme',
        type: 'aionix.openact.action.succeeded',
        shortType: 'succeeded',
        time: '2025-10-10T12:36:20Z',
        data: { status: 'succeeded', durationMs: 480, output: { freedMiB: 128 } },
        traceId: TRACE,
        resourceTrn: 'trn:synapse:acme:action/memory-sidecar-python/drop_cache',
        runId: 'run-1',
        correlationId: '018fb0c2-0000-7000-8000-000000000001',
      });
      expect(envelope).toEqual(axonEvent());
    }
  });

  it.each<[string, Json, Json]>([
    ['accepted', EV((e) => { e.type = 'aionix.openact.action.accepted'; e.data = { status: 'accepted' }; }), { shortType: 'accepted' }],
    ['started', EV((e) => { e.type = 'aionix.openact.action.started'; }), { shortType: 'started' }],
    ['progress 0.5', EV((e) => { e.type = 'aionix.openact.action.progress'; e.data = { status: 'running', progress: 0.5 }; }), { data: { progress: 0.5 } }],
    ['progress bounds', EV((e) => { e.type = 'aionix.openact.action.progress'; e.data = { status: 'running', progress: 1 }; }), {}],
    ['output chunk', EV((e) => { e.type = 'aionix.openact.action.output'; e.data = { status: 'running', chunk: 'line\n' }; }), { data: { chunk: 'line\n' } }],
    ['heartbeat', EV((e) => { e.type = 'aionix.openact.action.heartbeat'; e.data = { status: 'running' }; }), { shortType: 'heartbeat' }],
    ['failed with error', EV((e) => { e.type = 'aionix.openact.action.failed'; e.data = { status: 500, error: { message: 'boom' } }; }), { shortType: 'failed' }],
    ['rejected', EV((e) => { e.type = 'aionix.openact.action.rejected'; }), { shortType: 'rejected' }],
    ['cancelled', EV((e) => { e.type = 'aionix.openact.action.cancelled'; }), { shortType: 'cancelled' }],
    ['numeric status (seed)', EV((e) => { e.data = { status: 200 }; }), { data: { status: 200 } }],
    ['datacontenttype absent', EV((e) => { delete e.datacontenttype; }), { envelope: { datacontenttype: 'application/json' } }],
    ['traceparent trace id', EV((e) => { e.traceId = `00-${TRACE}-00f067aa0ba902b7-01`; }), { traceId: TRACE }],
    ['actorTrn and relatedTrns', EV((e) => { e.actorTrn = 'trn:synapse:acme:user/alice'; e.relatedTrns = ['trn:oss:acme:object/r.json@v1']; }), { actorTrn: 'trn:synapse:acme:user/alice', relatedTrns: ['trn:oss:acme:object/r.json@v1'] }],
    ['unknown attributes dropped', EV((e) => { e.myext = 'x'; }), {}],
    ['schema 1.2.0', EV((e) => { e.aionixSchemaVersion = '1.2.0'; }), {}],
  ])('accepts %s', (_name, body, expected) => {
    const r = parseEventEnvelope(body, { topicServiceId: 'memory-sidecar-python' });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value).toMatchObject(expected);
      expect(r.value.envelope).not.toHaveProperty('myext');
    }
  });

  it.each<[string, unknown, string | undefined, string, string]>([
    ['not an object', [axonEvent()], undefined, 'invalid_event', ''],
    ['specversion missing', EV((e) => { delete e.specversion; }), undefined, 'invalid_event', 'specversion'],
    ['specversion 0.3', EV((e) => { e.specversion = '0.3'; }), undefined, 'invalid_event', 'specversion'],
    ['aionixSchemaVersion missing', EV((e) => { delete e.aionixSchemaVersion; }), undefined, 'invalid_event', 'aionixSchemaVersion'],
    ['aionixSchemaVersion 2.0.0', EV((e) => { e.aionixSchemaVersion = '2.0.0'; }), undefined, 'unsupported_schema_version', 'aionixSchemaVersion'],
    ['id missing', EV((e) => { delete e.id; }), undefined, 'invalid_event', 'id'],
    ['id over 128 characters', EV((e) => { e.id = 'x'.repeat(129); }), undefined, 'invalid_event', 'id'],
    ['source not a TRN', EV((e) => { e.source = 'memory-sidecar-python'; }), undefined, 'invalid_event', 'source'],
    ['type unknown', EV((e) => { e.type = 'aionix.openact.action.exploded'; }), undefined, 'invalid_event', 'type'],
    ['type short', EV((e) => { e.type = 'succeeded'; }), undefined, 'invalid_event', 'type'],
    ['time not RFC 3339', EV((e) => { e.time = 'yesterday'; }), undefined, 'invalid_event', 'time'],
    ['datacontenttype text/plain', EV((e) => { e.datacontenttype = 'text/plain'; }), undefined, 'invalid_event', 'datacontenttype'],
    ['data missing', EV((e) => { delete e.data; }), undefined, 'invalid_event', 'data'],
    ['data an array', EV((e) => { e.data = []; }), undefined, 'invalid_event', 'data'],
    ['data.status missing', EV((e) => { e.data = { output: 1 }; }), undefined, 'invalid_event', 'data.status'],
    ['data.status a boolean', EV((e) => { e.data = { status: true }; }), undefined, 'invalid_event', 'data.status'],
    ['data.progress over 1', EV((e) => { e.data = { status: 'running', progress: 1.5 }; }), undefined, 'invalid_event', 'data.progress'],
    ['data.progress negative', EV((e) => { e.data = { status: 'running', progress: -0.1 }; }), undefined, 'invalid_event', 'data.progress'],
    ['data.progress a string', EV((e) => { e.data = { status: 'running', progress: '50%' }; }), undefined, 'invalid_event', 'data.progress'],
    ['data.chunk not a string', EV((e) => { e.data = { status: 'running', chunk: ['a'] }; }), undefined, 'invalid_event', 'data.chunk'],
    ['tenant invalid', EV((e) => { e.tenant = ''; }), undefined, 'invalid_event', 'tenant'],
    ['traceId invalid', EV((e) => { e.traceId = '00-4bf92f35-...'; }), undefined, 'invalid_event', 'traceId'],
    ['resourceTrn missing', EV((e) => { delete e.resourceTrn; }), undefined, 'invalid_event', 'resourceTrn'],
    ['runId empty', EV((e) => { e.runId = ''; }), undefined, 'invalid_event', 'runId'],
    ['correlationId missing', EV((e) => { delete e.correlationId; }), undefined, 'invalid_event', 'correlationId'],
    ['relatedTrns not TRNs', EV((e) => { e.relatedTrns = ['x']; }), undefined, 'invalid_event', 'relatedTrns[0]'],
    ['a gateway-only type', EV((e) => { e.type = 'aionix.openact.action.timed_out'; }), undefined, 'invalid_event', 'type'],
    ['source not a service', EV((e) => { e.source = 'trn:openact:acme:executor'; }), undefined, 'invalid_event', 'source'],
    ['source of another tenant', EV((e) => { e.source = 'trn:synapse:other:service/memory-sidecar-python'; }), undefined, 'invalid_event', 'source'],
    ['source service differs from topic', axonEvent(), 'other-service', 'service_mismatch', 'source'],
    ['data over 64 KiB', EV((e) => { e.data = { status: 'running', chunk: 'x'.repeat(64 * 1024) }; }), undefined, 'too_large', 'data'],
    ['order: specversion first', EV((e) => { e.specversion = '2'; e.aionixSchemaVersion = '9'; }), undefined, 'invalid_event', 'specversion'],
    ['order: schema version before fields', EV((e) => { e.aionixSchemaVersion = '9.0.0'; delete e.id; }), undefined, 'unsupported_schema_version', 'aionixSchemaVersion'],
  ])('rejects %s', (_name, body, topicServiceId, code, path) => {
    const r = parseEventEnvelope(body, topicServiceId === undefined ? {} : { topicServiceId });
    expect(r.ok).toBe(false);
    if (!r.ok) expect({ code: r.error.code, path: r.error.path }).toEqual({ code, path });
  });
});

describe('expired from an Axon', () => {
  it('accepts expired (a command dropped because its deadline had passed) and still refuses the other gateway types', () => {
    const expired = parseEventEnvelope(EV((e) => { e.type = 'aionix.openact.action.expired'; e.data = { status: 'expired', reason: 'deadline passed' }; }));
    expect(expired.ok && expired.value.shortType).toBe('expired');
    for (const t of ['requested', 'dispatched', 'timed_out', 'lost']) {
      const r = parseEventEnvelope(EV((e) => { e.type = `aionix.openact.action.${t}`; }));
      expect(r.ok ? null : r.error.path).toBe('type');
    }
  });
});

describe('parseEventBytes', () => {
  const enc = new TextEncoder();
  it.each<[string, Uint8Array, string | null]>([
    ['valid', enc.encode(JSON.stringify(axonEvent())), null],
    ['over 256 KiB', enc.encode(JSON.stringify(axonEvent()) + ' '.repeat(256 * 1024)), 'too_large'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xfe, 0x7d]), 'invalid_utf8'],
    ['not JSON', enc.encode('{'), 'invalid_json'],
    ['an array', enc.encode('[]'), 'not_object'],
    ['then the envelope rules', enc.encode(JSON.stringify(EV((e) => { e.specversion = '0.3'; }))), 'invalid_event'],
  ])('%s', (_name, buf, code) => {
    const r = parseEventBytes(buf, { topicServiceId: 'memory-sidecar-python' });
    if (code === null) expect(r.ok).toBe(true);
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe(code);
    }
  });
});

const NOW = Date.UTC(2026, 0, 4, 12, 0, 0);
const gw = (over: Partial<BuildGatewayEventParams> = {}): BuildGatewayEventParams => ({
  id: uuidv7(NOW, (n) => new Uint8Array(n).fill(1)),
  now: NOW,
  tenant: 'acme',
  shortType: 'dispatched',
  data: { status: 'dispatched' },
  traceId: TRACE,
  resourceTrn: 'trn:synapse:acme:action/memory-sidecar-python/drop_cache',
  runId: 'run-1',
  correlationId: 'cmd-1',
  ...over,
});

describe('buildGatewayEvent', () => {
  it.each([['requested'], ['dispatched'], ['timed_out'], ['lost'], ['expired'], ['cancelled']] as const)('builds %s', (shortType) => {
    const r = buildGatewayEvent(gw({ shortType, data: { status: shortType } }));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value).toEqual({
        specversion: '1.0',
        id: gw().id,
        source: 'trn:synapse:acme:gateway',
        type: `aionix.openact.action.${shortType}`,
        time: '2026-01-04T12:00:00.000Z',
        datacontenttype: 'application/json',
        data: { status: shortType },
        aionixSchemaVersion: '1.1.0',
        tenant: 'acme',
        traceId: TRACE,
        resourceTrn: 'trn:synapse:acme:action/memory-sidecar-python/drop_cache',
        runId: 'run-1',
        correlationId: 'cmd-1',
      });
    }
  });

  it.each<[string, Partial<BuildGatewayEventParams>, string, string]>([
    ['an Axon type', { shortType: 'succeeded' as never }, 'invalid_event', 'type'],
    ['id not a UUID', { id: 'e-1' }, 'invalid_event', 'id'],
    ['tenant invalid', { tenant: 'a:b' }, 'invalid_event', 'tenant'],
    ['resourceTrn invalid', { resourceTrn: 'drop_cache' }, 'invalid_event', 'resourceTrn'],
    ['now invalid', { now: Number.NaN }, 'invalid_event', 'time'],
    ['trace id invalid', { traceId: 'abc' }, 'invalid_event', 'traceId'],
    ['progress out of range', { data: { status: 'x', progress: 2 } }, 'invalid_event', 'data.progress'],
    ['data too large', { data: { status: 'x', output: 'y'.repeat(70_000) } }, 'too_large', 'data'],
    ['empty runId', { runId: '' }, 'invalid_event', 'runId'],
  ])('rejects %s', (_name, over, code, path) => {
    const r = buildGatewayEvent(gw(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expect({ code: r.error.code, path: r.error.path }).toEqual({ code, path });
  });
});

describe('buildEventEnvelope', () => {
  it('builds an Axon event that parses back', () => {
    const r = buildEventEnvelope({
      ...gw(),
      source: 'trn:synapse:acme:service/memory-sidecar-python',
      shortType: 'progress',
      data: { status: 'running', progress: 0.25 },
      actorTrn: 'trn:synapse:acme:user/alice',
      relatedTrns: ['trn:oss:acme:object/x'],
    });
    expect(r.ok).toBe(true);
    if (r.ok) {
      const back = parseEventEnvelope(JSON.parse(JSON.stringify(r.value)), { topicServiceId: 'memory-sidecar-python' });
      expect(back.ok).toBe(true);
      if (back.ok) expect(back.value.shortType).toBe('progress');
    }
  });
});

describe('buildEventEnvelope without the schema (the hot path) gives what the schema gives', () => {
  const axon = { ...gw(), source: 'trn:synapse:acme:service/memory-sidecar-python', shortType: 'progress' as const };
  it.each<[string, Parameters<typeof buildEventEnvelope>[0]]>([
    ['a requested event', { ...gw(), source: 'trn:synapse:acme:gateway', shortType: 'requested', data: { status: 'requested' } }],
    ['a dispatched event', { ...gw(), source: 'trn:synapse:acme:gateway', shortType: 'dispatched', data: { status: 'dispatched' } }],
    ['progress, chunk and other data members in any order', { ...axon, data: { zz: [1], chunk: 'c', progress: 0.5, status: 'running', note: { progress: 3 } } as never }],
    ['an actorTrn', { ...axon, data: { status: 'running' }, actorTrn: 'trn:synapse:acme:user/alice' }],
    ['relatedTrns (schema only)', { ...axon, data: { status: 'running' }, relatedTrns: ['trn:oss:acme:object/x'] }],
    ['a numeric status (schema only)', { ...axon, data: { status: 3 } as never }],
    ['an output and an error', { ...gw(), source: 'trn:synapse:acme:service/memory-sidecar-python', shortType: 'failed', data: { status: 'failed', output: { a: 1 }, error: { code: 'E', message: 'm' } } as never }],
  ])('%s', (_name, params) => {
    const built = buildEventEnvelope(params);
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    const bySchema = EventEnvelopeSchema.parse(JSON.parse(JSON.stringify(built.value)));
    expect(built.value).toEqual(bySchema);
    expect(Object.keys(built.value)).toEqual(Object.keys(bySchema));
    expect(Object.keys(built.value.data)).toEqual(Object.keys(bySchema.data));
  });

  it.each<[string, Partial<Parameters<typeof buildEventEnvelope>[0]>, string]>([
    ['a source that is no TRN', { source: 'memory-sidecar-python' }, 'source'],
    ['an actorTrn that is no TRN', { actorTrn: 'alice' }, 'actorTrn'],
    ['an empty correlationId', { correlationId: '' }, 'correlationId'],
    ['a status of 65 characters', { data: { status: 's'.repeat(65) } }, 'data.status'],
  ])('rejects %s as the schema does', (_name, over, path) => {
    const built = buildEventEnvelope({ ...axon, data: { status: 'running' }, ...over });
    expect(built.ok).toBe(false);
    if (!built.ok) expect([built.error.code, built.error.path]).toEqual(['invalid_event', path]);
  });
});

describe('fastAxonEnvelope (the hot path beside EventEnvelopeSchema)', () => {
  const variants: Array<[string, (e: Json) => void]> = [
    ['as sent', () => {}],
    ['no datacontenttype', (e) => delete e.datacontenttype],
    ['unknown members', (e) => Object.assign(e, { extra: 1, subject: 'x' })],
    ['data members in any order', (e) => (e.data = { zz: [1], chunk: 'c', note: 'n', progress: 0.25, error: null, status: 'running', output: undefined })],
    ['progress 0 and 1', (e) => (e.data = { status: 'running', progress: 0, other: { progress: 1 } })],
    ['a traceparent', (e) => (e.traceId = `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`)],
    ['an actorTrn', (e) => (e.actorTrn = 'trn:synapse:acme:user/alice')],
    ['a progress event', (e) => Object.assign(e, { type: 'aionix.openact.action.progress', data: { status: 'running', progress: 0.5, message: 'step' } })],
    ['a gateway type', (e) => (e.type = 'aionix.openact.action.requested')],
    ['an unknown type', (e) => (e.type = 'aionix.openact.action.nope')],
    ['specversion 1.1', (e) => (e.specversion = '1.1')],
    ['empty id', (e) => (e.id = '')],
    ['long id', (e) => (e.id = 'x'.repeat(129))],
    ['id of 128', (e) => (e.id = 'x'.repeat(128))],
    ['numeric id', (e) => (e.id = 7)],
    ['bad time', (e) => (e.time = '2025-13-10T12:36:20Z')],
    ['other content type', (e) => (e.datacontenttype = 'text/plain')],
    ['data an array', (e) => (e.data = [])],
    ['data null', (e) => (e.data = null)],
    ['no status', (e) => (e.data = { output: 1 })],
    ['empty status', (e) => (e.data = { status: '' })],
    ['status of 65', (e) => (e.data = { status: 's'.repeat(65) })],
    ['numeric status', (e) => (e.data = { status: 3 })],
    ['progress above 1', (e) => (e.data = { status: 'running', progress: 1.5 })],
    ['progress a string', (e) => (e.data = { status: 'running', progress: '0.5' })],
    ['chunk a number', (e) => (e.data = { status: 'running', chunk: 1 })],
    ['__proto__ in data', (e) => (e.data = JSON.parse('{"status":"running","__proto__":{"a":1}}'))],
    ['bad tenant', (e) => (e.tenant = 'ac me')],
    ['bad traceId', (e) => (e.traceId = '0'.repeat(32))],
    ['bad resourceTrn', (e) => (e.resourceTrn = 'trn:x')],
    ['no runId', (e) => delete e.runId],
    ['bad correlationId', (e) => (e.correlationId = '')],
    ['bad actorTrn', (e) => (e.actorTrn = 'alice')],
    ['relatedTrns', (e) => (e.relatedTrns = ['trn:synapse:acme:user/alice'])],
    ['gateway source', (e) => (e.source = 'trn:synapse:acme:gateway')],
    ['source not a TRN', (e) => (e.source = 'service/x')],
    ['numeric schema version', (e) => (e.aionixSchemaVersion = 1)],
  ];
  for (const [name, mutate] of variants) {
    it(`agrees with the schema: ${name}`, () => {
      const body = JSON.parse(JSON.stringify(EV(mutate))) as Json;
      const fast = fastAxonEnvelope(body);
      const schema = EventEnvelopeSchema.safeParse(body);
      if (fast === undefined) {
        // Left to the schema; the cases it must take are listed here.
        expect(['as sent', 'no datacontenttype', 'unknown members', 'progress 0 and 1', 'a traceparent', 'an actorTrn', 'a progress event', 'id of 128', 'data members in any order']).not.toContain(name);
        return;
      }
      expect(schema.success).toBe(true);
      // Same members, values and order as the schema's output.
      expect(JSON.stringify(fast.envelope)).toBe(JSON.stringify(schema.data));
      expect(fast.envelope).toStrictEqual(schema.data);
      expect(fast.shortType).toBe(shortEventType(body.type));
      expect(fast.source).toEqual({ tenant: 'acme', serviceId: 'memory-sidecar-python' });
      // "As sent": the body holds the same members and values (its text can stand for the envelope's JSON).
      if (fast.asSent) expect(body).toEqual(JSON.parse(JSON.stringify(fast.envelope)));
      else expect(body).not.toEqual(JSON.parse(JSON.stringify(fast.envelope)));
      if (['as sent', 'an actorTrn', 'data members in any order'].includes(name)) expect(fast.asSent).toBe(true);
      if (['no datacontenttype', 'unknown members', 'a traceparent'].includes(name)) expect(fast.asSent).toBe(false);
      // And parseEventEnvelope's result is what it was with the schema alone.
      const parsed = parseEventEnvelope(body);
      expect(parsed.ok && parsed.value.envelope).toStrictEqual(schema.data);
    });
  }

  it('keeps the values it does not check as they are (no copy)', () => {
    const body = EV((e) => (e.data = { status: 'succeeded', output: { deep: [1, 2] }, extra: { a: 1 } }));
    const fast = fastAxonEnvelope(body)!;
    expect(fast.envelope.data.output).toBe(body.data.output);
    expect(fast.envelope.data.extra).toBe(body.data.extra);
  });

  it('gives the payload as the envelope text only when it holds exactly the envelope', () => {
    const sent = EV(() => {});
    const text = JSON.stringify(sent);
    const asSent = parseEventBytes(Buffer.from(text));
    expect(asSent.ok && asSent.value.envelopeText).toBe(text);
    const extra = parseEventBytes(Buffer.from(JSON.stringify({ ...sent, extra: 1 })));
    expect(extra.ok && extra.value.envelopeText).toBeUndefined();
    const viaObject = parseEventEnvelope(sent);
    expect(viaObject.ok && viaObject.value.envelopeText).toBeUndefined();
  });

  it('leaves the error messages to the schema', () => {
    const r = parseEventBytes(Buffer.from(JSON.stringify(EV((e) => (e.data = { status: 'running', progress: 2 })))));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.path).toBe('data.progress');
  });
});
