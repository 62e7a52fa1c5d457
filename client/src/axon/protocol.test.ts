import { describe, expect, it } from 'vitest';
import { jsonBytes } from './chunk.js';
import { uuidv7 } from './ids.js';
import { buildEvent, buildSnapshot, normaliseTraceId, parseCommand, topicsFor } from './protocol.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const envelope = (over: Record<string, unknown> = {}) => ({
  schemaVersion: '1.1.0',
  id: '019b8945-3a9b-7a5a-9a5a-5a5a5a5a5a5a',
  timestamp: '2026-01-04T12:36:20.123Z',
  command: 'synapse.action.execute',
  source: 'trn:synapse:acme:gateway',
  target: 'trn:synapse:acme:action/memory-sidecar-python/restart_process',
  tenant: 'acme',
  traceId: TRACE,
  parameters: { input: { force: true }, runId: 'run-1', serviceId: 'memory-sidecar-python', actionId: 'restart_process' },
  correlationId: '019b8945-3a9b-7a5a-9a5a-5a5a5a5a5a5a',
  heartbeatTimeout: 30,
  action_id: 'restart_process',
  issued_by: 'user',
  ...over,
});

describe('parseCommand', () => {
  it('reads what an Axon needs from the gateway\'s envelope', () => {
    const r = parseCommand(envelope({ deadline: '2026-01-04T12:37:00Z' }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.command).toMatchObject({
      verb: 'execute',
      runId: 'run-1',
      actionId: 'restart_process',
      input: { force: true },
      traceId: TRACE,
      heartbeatTimeout: 30,
      deadline: Date.UTC(2026, 0, 4, 12, 37, 0),
      definition: undefined,
    });
  });
  it('reads a definition and the cancel verb', () => {
    const r = parseCommand(envelope({ command: 'synapse.run.cancel', parameters: { runId: 'r', actionId: 'definition-7', definition: { id: '7', kind: 'command', spec: { cmd: 'true' }, version: 2 } } }));
    expect(r.ok && r.command.verb).toBe('cancel');
    expect(r.ok && r.command.definition).toEqual({ id: '7', kind: 'command', spec: { cmd: 'true' }, version: 2 });
  });
  it.each([
    ['not an object', [], false],
    ['a legacy MVP payload', { action_id: 'restart', issued_by: 'user' }, true],
    ['another schema version', envelope({ schemaVersion: '2.0.0' }), false],
    ['an unknown verb', envelope({ command: 'rm -rf' }), false],
    ['no run id', envelope({ parameters: { actionId: 'x' } }), false],
    ['a bad trace id', envelope({ traceId: 'nope' }), false],
    ['a bad deadline', envelope({ deadline: 'soon' }), false],
  ])('refuses %s', (_name, body, legacy) => {
    const r = parseCommand(body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.legacy).toBe(legacy);
  });
  it('accepts a traceparent and uppercase hex', () => {
    expect(normaliseTraceId(`00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01`)).toBe(TRACE);
    expect(normaliseTraceId('0'.repeat(32))).toBeUndefined();
  });
});

describe('buildEvent', () => {
  it('names the service as source and echoes the command', () => {
    const r = parseCommand(envelope());
    if (!r.ok) throw new Error('fixture');
    const e = buildEvent({ id: 'e1', now: Date.UTC(2026, 0, 4), tenant: 'acme', serviceId: 'memory-sidecar-python', type: 'succeeded', data: { status: 'succeeded' }, command: r.command });
    expect(e).toEqual({
      specversion: '1.0',
      id: 'e1',
      source: 'trn:synapse:acme:service/memory-sidecar-python',
      type: 'aionix.openact.action.succeeded',
      time: '2026-01-04T00:00:00.000Z',
      datacontenttype: 'application/json',
      data: { status: 'succeeded' },
      aionixSchemaVersion: '1.1.0',
      tenant: 'acme',
      traceId: TRACE,
      resourceTrn: 'trn:synapse:acme:action/memory-sidecar-python/restart_process',
      runId: 'run-1',
      correlationId: '019b8945-3a9b-7a5a-9a5a-5a5a5a5a5a5a',
    });
    expect(jsonBytes(e)).toBeLessThan(1024);
  });
});

describe('buildSnapshot', () => {
  it('declares actions as one action_group and the runners', () => {
    expect(buildSnapshot({ serviceId: 'demo', ttl: 30, actions: [{ id: 'restart', style: 'danger', confirm: true }], runners: ['command', 'command'] })).toEqual({
      api_version: 'v1',
      id: 'demo',
      name: 'demo',
      status: 'online',
      ttl: 30,
      runners: ['command'],
      layout: { type: 'sections', root: [{ type: 'section', title: 'Actions', children: ['actions'] }] },
      components: { actions: { id: 'actions', type: 'action_group', label: 'Actions', items: [{ action_id: 'restart', label: 'restart', style: 'danger', confirm: true }] } },
    });
  });
  it('leaves out layout and components when there is no action', () => {
    expect(buildSnapshot({ serviceId: 'runner-only', ttl: 10, actions: [], status: 'offline' })).toEqual({ api_version: 'v1', id: 'runner-only', name: 'runner-only', status: 'offline', ttl: 10 });
  });
});

describe('topics and ids', () => {
  it('builds topics under a configurable prefix', () => {
    expect(topicsFor('acme/synapse/v1/', 'demo')).toEqual({ discovery: 'acme/synapse/v1/discovery/demo', command: 'acme/synapse/v1/command/demo', event: 'acme/synapse/v1/event/demo' });
  });
  it('makes UUIDv7s that sort by time', () => {
    const a = uuidv7(1000);
    const b = uuidv7(2000);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });
});
