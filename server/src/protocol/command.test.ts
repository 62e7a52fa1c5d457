import { describe, expect, it } from 'vitest';
import {
  buildCommandEnvelope,
  CommandEnvelopeSchema,
  commandErrorHttpStatus,
  parseCommandEnvelope,
  type BuildCommandParams,
} from './command.js';
import { uuidv7 } from './ids.js';

type Json = Record<string, any>; // test fixtures only

const NOW = Date.UTC(2026, 0, 4, 12, 36, 20, 123);
const ID = uuidv7(NOW, (n) => new Uint8Array(n).fill(0x5a));
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

const params = (over: Partial<BuildCommandParams> = {}): BuildCommandParams => ({
  id: ID,
  now: NOW,
  tenant: 'acme',
  serviceId: 'memory-sidecar-python',
  actionId: 'restart_process',
  runId: 'run-1',
  input: { force: true },
  traceId: TRACE,
  heartbeatTimeout: 30,
  issuedBy: 'user',
  ...over,
});

describe('buildCommandEnvelope', () => {
  it('builds the envelope with the legacy fields', () => {
    const r = buildCommandEnvelope(params());
    expect(r).toEqual({
      ok: true,
      value: {
        schemaVersion: '1.1.0',
        id: ID,
        timestamp: '2026-01-04T12:36:20.123Z',
        command: 'synapse.action.execute',
        source: 'trn:synapse:acme:gateway',
        target: 'trn:synapse:acme:action/memory-sidecar-python/restart_process',
        tenant: 'acme',
        traceId: TRACE,
        parameters: { input: { force: true }, runId: 'run-1', serviceId: 'memory-sidecar-python', actionId: 'restart_process' },
        correlationId: ID,
        heartbeatTimeout: 30,
        action_id: 'restart_process',
        issued_by: 'user',
      },
    });
  });

  it('includes the optional fields', () => {
    const r = buildCommandEnvelope(
      params({
        command: 'synapse.run.cancel',
        idempotencyKey: 'key-1',
        actorTrn: 'trn:synapse:acme:user/alice',
        authzScopes: ['actions:execute'],
        deadline: NOW + 60_000,
        definition: { id: 'deploy', kind: 'command', spec: { argv: ['make'] }, version: 2 },
        input: undefined,
      }),
    );
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value).toMatchObject({
        command: 'synapse.run.cancel',
        idempotencyKey: 'key-1',
        actorTrn: 'trn:synapse:acme:user/alice',
        authzScopes: ['actions:execute'],
        deadline: '2026-01-04T12:37:20.123Z',
        parameters: { input: null, definition: { id: 'deploy', kind: 'command', spec: { argv: ['make'] }, version: 2 } },
      });
      // What the gateway builds, it accepts.
      expect(parseCommandEnvelope(JSON.parse(JSON.stringify(r.value))).ok).toBe(true);
    }
  });

  // Built without a schema pass (a trigger's hot path): the schema takes each built envelope as it is.
  it.each<[string, Partial<BuildCommandParams>]>([
    ['the least', { input: undefined }],
    ['an input', { input: { nested: [1, 'two', null, { deep: true }] } }],
    ['a cancel', { command: 'synapse.run.cancel', input: null }],
    ['every optional member', { idempotencyKey: 'k'.repeat(255), actorTrn: 'trn:synapse:acme:user/alice', authzScopes: ['a', 'b:c'], deadline: NOW + 1, definition: { id: 'd', kind: 'prompt', spec: { template: 'hi' } } }],
    ['legacy ids', { serviceId: 'svc_with-dash', actionId: 'A1_b-2', runId: 'r'.repeat(128) }],
  ])('builds an envelope CommandEnvelopeSchema keeps unchanged: %s', (_name, over) => {
    const r = buildCommandEnvelope(params(over));
    expect(r.ok).toBe(true);
    if (r.ok) expect(CommandEnvelopeSchema.parse(JSON.parse(JSON.stringify(r.value)))).toEqual(JSON.parse(JSON.stringify(r.value)));
  });

  it.each<[string, Partial<BuildCommandParams>, string]>([
    ['id not a UUIDv7', { id: 'cmd-1' }, 'id'],
    ['id a UUIDv4', { id: 'f47ac10b-58cc-4372-a567-0e02b2c3d479' }, 'id'],
    ['now not a time', { now: Number.NaN }, 'timestamp'],
    ['tenant invalid', { tenant: 'ac:me' }, 'tenant'],
    ['service id invalid', { serviceId: 'a/b' }, 'parameters.serviceId'],
    ['action id invalid', { actionId: '' }, 'parameters.actionId'],
    ['trace id uppercase', { traceId: TRACE.toUpperCase() }, 'traceId'],
    ['trace id all zeros', { traceId: '0'.repeat(32) }, 'traceId'],
    ['run id empty', { runId: '' }, 'parameters.runId'],
    ['heartbeatTimeout zero', { heartbeatTimeout: 0 }, 'heartbeatTimeout'],
    ['heartbeatTimeout infinite', { heartbeatTimeout: Number.POSITIVE_INFINITY }, 'heartbeatTimeout'],
    ['deadline not a time', { deadline: Number.POSITIVE_INFINITY }, 'deadline'],
    ['definition without kind', { definition: { id: 'd', kind: '', spec: {} } }, 'parameters.definition.kind'],
    ['idempotency key too long', { idempotencyKey: 'k'.repeat(256) }, 'idempotencyKey'],
    ['actorTrn not a TRN', { actorTrn: 'alice' }, 'actorTrn'],
    ['idempotency key empty', { idempotencyKey: '' }, 'idempotencyKey'],
    ['too many authz scopes', { authzScopes: Array.from({ length: 65 }, (_, i) => `s${i}`) }, 'authzScopes'],
    ['an empty authz scope', { authzScopes: ['actions:execute', ''] }, 'authzScopes[1]'],
    ['command unknown', { command: 'synapse.run.delete' as never }, 'command'],
    ['input too large', { input: 'x'.repeat(256 * 1024) }, 'parameters'],
    ['input not JSON', { input: 10n }, 'parameters'],
  ])('rejects %s at %s', (_name, over, path) => {
    const r = buildCommandEnvelope(params(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.path]).toEqual(['invalid_envelope', path]);
  });
});

/** An envelope as Stepflow sends it to POST /actions/{trn}/execute. */
function incoming(): Json {
  return {
    schemaVersion: '1.1.0',
    id: '018fb0c2-0000-7000-8000-000000000001',
    timestamp: '2025-10-10T12:36:00Z',
    command: 'aionix.openact.action.execute',
    source: 'trn:stepflow:acme:engine',
    target: 'trn:synapse:acme:action/memory-sidecar-python/drop_cache',
    tenant: 'acme',
    traceId: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    parameters: { input: { level: 3 } },
    correlationId: '018fb0c2-0000-7000-8000-000000000001',
  };
}
const IN = (mutate: (e: Json) => void): Json => {
  const e = incoming();
  mutate(e);
  return e;
};

describe('parseCommandEnvelope', () => {
  it('accepts a Stepflow envelope and normalises it', () => {
    const r = parseCommandEnvelope(IN((e) => { e.relatedTrns = ['trn:oss:acme:object/x']; }));
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.verb).toBe('execute');
      expect(r.value.target).toEqual({ tenant: 'acme', serviceId: 'memory-sidecar-python', actionId: 'drop_cache' });
      expect(r.value.input).toEqual({ level: 3 });
      expect(r.value.envelope.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(r.value.envelope).not.toHaveProperty('relatedTrns');
    }
  });

  it.each<[string, Json, Partial<{ verb: string; input: unknown }>]>([
    ['synapse.action.execute', IN((e) => { e.command = 'synapse.action.execute'; }), { verb: 'execute' }],
    ['synapse.run.cancel', IN((e) => { e.command = 'synapse.run.cancel'; }), { verb: 'cancel' }],
    ['schemaVersion 1.0.0', IN((e) => { e.schemaVersion = '1.0.0'; }), {}],
    ['schemaVersion 1.2.10', IN((e) => { e.schemaVersion = '1.2.10'; }), {}],
    ['no input', IN((e) => { e.parameters = {}; }), { input: null }],
    ['any id up to 128 characters', IN((e) => { e.id = 'x'.repeat(128); e.correlationId = 'wf-42'; }), {}],
    ['a 32-hex trace id', IN((e) => { e.traceId = '4bf92f3577b34da6a3ce929d0e0e4736'; }), {}],
    ['all optional fields', IN((e) => {
      e.idempotencyKey = 'k'.repeat(255);
      e.actorTrn = 'trn:stepflow:acme:user/alice';
      e.authzScopes = ['a', 'b'];
      e.deadline = '2025-10-10T12:46:00.5+02:00';
      e.heartbeatTimeout = 0.5;
    }), {}],
    ['legacy fields', IN((e) => { e.action_id = 'drop_cache'; e.issued_by = 'user'; }), {}],
  ])('accepts %s', (_name, body, expected) => {
    const r = parseCommandEnvelope(body);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toMatchObject(expected);
  });

  it.each<[string, unknown, string, string]>([
    ['body not an object', [incoming()], 'invalid_envelope', ''],
    ['body null', null, 'invalid_envelope', ''],
    ['schemaVersion missing', IN((e) => { delete e.schemaVersion; }), 'invalid_envelope', 'schemaVersion'],
    ['schemaVersion a number', IN((e) => { e.schemaVersion = 1.1; }), 'invalid_envelope', 'schemaVersion'],
    ['schemaVersion 2.0.0', IN((e) => { e.schemaVersion = '2.0.0'; }), 'unsupported_schema_version', 'schemaVersion'],
    ['schemaVersion 0.9.0', IN((e) => { e.schemaVersion = '0.9.0'; }), 'unsupported_schema_version', 'schemaVersion'],
    ['schemaVersion 1.1', IN((e) => { e.schemaVersion = '1.1'; }), 'unsupported_schema_version', 'schemaVersion'],
    ['schemaVersion 1.1.0-beta', IN((e) => { e.schemaVersion = '1.1.0-beta'; }), 'unsupported_schema_version', 'schemaVersion'],
    ['id missing', IN((e) => { delete e.id; }), 'invalid_envelope', 'id'],
    ['id empty', IN((e) => { e.id = ''; }), 'invalid_envelope', 'id'],
    ['id over 128 characters', IN((e) => { e.id = 'x'.repeat(129); }), 'invalid_envelope', 'id'],
    ['timestamp missing', IN((e) => { delete e.timestamp; }), 'invalid_envelope', 'timestamp'],
    ['timestamp not RFC 3339', IN((e) => { e.timestamp = '2025-10-10 12:36'; }), 'invalid_envelope', 'timestamp'],
    ['timestamp epoch number', IN((e) => { e.timestamp = 1760099760; }), 'invalid_envelope', 'timestamp'],
    ['command unknown', IN((e) => { e.command = 'synapse.action.delete'; }), 'invalid_envelope', 'command'],
    ['source not a TRN', IN((e) => { e.source = 'stepflow'; }), 'invalid_envelope', 'source'],
    ['target missing', IN((e) => { delete e.target; }), 'invalid_envelope', 'target'],
    ['target not a TRN', IN((e) => { e.target = 'drop_cache'; }), 'invalid_envelope', 'target'],
    ['target not a synapse action', IN((e) => { e.target = 'trn:openact:acme:action/http/send-mail@v3'; }), 'invalid_envelope', 'target'],
    ['target of another tenant', IN((e) => { e.target = 'trn:synapse:other:action/memory-sidecar-python/drop_cache'; }), 'invalid_envelope', 'target'],
    ['tenant missing', IN((e) => { delete e.tenant; }), 'invalid_envelope', 'tenant'],
    ['tenant invalid', IN((e) => { e.tenant = 'ac me'; }), 'invalid_envelope', 'tenant'],
    ['traceId missing', IN((e) => { delete e.traceId; }), 'invalid_envelope', 'traceId'],
    ['traceId truncated', IN((e) => { e.traceId = '00-4bf92f35-...'; }), 'invalid_envelope', 'traceId'],
    ['parameters missing', IN((e) => { delete e.parameters; }), 'invalid_envelope', 'parameters'],
    ['parameters an array', IN((e) => { e.parameters = [1]; }), 'invalid_envelope', 'parameters'],
    ['parameters over 256 KiB', IN((e) => { e.parameters = { input: 'x'.repeat(256 * 1024) }; }), 'invalid_envelope', 'parameters'],
    ['correlationId missing', IN((e) => { delete e.correlationId; }), 'invalid_envelope', 'correlationId'],
    ['idempotencyKey over 255 characters', IN((e) => { e.idempotencyKey = 'k'.repeat(256); }), 'invalid_envelope', 'idempotencyKey'],
    ['idempotencyKey empty', IN((e) => { e.idempotencyKey = ''; }), 'invalid_envelope', 'idempotencyKey'],
    ['actorTrn not a TRN', IN((e) => { e.actorTrn = 'alice'; }), 'invalid_envelope', 'actorTrn'],
    ['authzScopes not an array', IN((e) => { e.authzScopes = 'a'; }), 'invalid_envelope', 'authzScopes'],
    ['authzScopes with a number', IN((e) => { e.authzScopes = ['a', 1]; }), 'invalid_envelope', 'authzScopes[1]'],
    ['deadline not RFC 3339', IN((e) => { e.deadline = 'tomorrow'; }), 'invalid_envelope', 'deadline'],
    ['deadline impossible date', IN((e) => { e.deadline = '2025-02-30T00:00:00Z'; }), 'invalid_envelope', 'deadline'],
    ['heartbeatTimeout zero', IN((e) => { e.heartbeatTimeout = 0; }), 'invalid_envelope', 'heartbeatTimeout'],
    ['heartbeatTimeout a string', IN((e) => { e.heartbeatTimeout = '30'; }), 'invalid_envelope', 'heartbeatTimeout'],
    ['legacy action_id not a string', IN((e) => { e.action_id = 1; }), 'invalid_envelope', 'action_id'],
    ['order: schemaVersion before other fields', IN((e) => { e.schemaVersion = '2.0.0'; delete e.id; }), 'unsupported_schema_version', 'schemaVersion'],
    ['order: fields in schema order', IN((e) => { delete e.correlationId; e.timestamp = 'x'; }), 'invalid_envelope', 'timestamp'],
  ])('rejects %s', (_name, body, code, path) => {
    const r = parseCommandEnvelope(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect({ code: r.error.code, path: r.error.path }).toEqual({ code, path });
  });

  it('names the supported version', () => {
    const r = parseCommandEnvelope(IN((e) => { e.schemaVersion = '2.0.0'; }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toContain('1.1.0');
      expect(commandErrorHttpStatus(r.error.code)).toBe(422);
    }
    expect(commandErrorHttpStatus('invalid_envelope')).toBe(400);
  });
});
