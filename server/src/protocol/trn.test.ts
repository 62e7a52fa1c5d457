import { describe, expect, it } from 'vitest';
import {
  actionTrn,
  definitionTrn,
  formatTrn,
  gatewaySourceTrn,
  isTenant,
  isTrn,
  parseActionTarget,
  parseServiceSource,
  parseTrn,
  serviceSourceTrn,
  type TrnParts,
} from './trn.js';

describe('parseTrn', () => {
  it.each<[string, TrnParts]>([
    ['trn:synapse:acme:action/memory-sidecar-python/drop_cache', { system: 'synapse', tenant: 'acme', type: 'action', name: 'memory-sidecar-python/drop_cache' }],
    ['trn:synapse:acme:definition/deploy@v3', { system: 'synapse', tenant: 'acme', type: 'definition', name: 'deploy', version: 3 }],
    ['trn:synapse:acme:gateway', { system: 'synapse', tenant: 'acme', type: 'gateway' }],
    ['trn:stepflow:acme:engine', { system: 'stepflow', tenant: 'acme', type: 'engine' }],
    ['trn:openact:acme:action/http/send-mail@v3', { system: 'openact', tenant: 'acme', type: 'action', name: 'http/send-mail', version: 3 }],
    ['trn:oss:acme:object/reports/2025-10-10.json@v1', { system: 'oss', tenant: 'acme', type: 'object', name: 'reports/2025-10-10.json', version: 1 }],
    ['trn:synapse:Tenant_1-x:service/svc', { system: 'synapse', tenant: 'Tenant_1-x', type: 'service', name: 'svc' }],
  ])('parses %s', (s, expected) => {
    expect(parseTrn(s)).toEqual({ ok: true, value: expected });
    expect(isTrn(s)).toBe(true);
  });

  it.each([
    [42, ''],
    ['', ''],
    ['urn:synapse:acme:gateway', ''],
    ['trn:synapse:acme', ''],
    ['trn:synapse:acme:gateway:extra', ''],
    [`trn:synapse:acme:action/${'a'.repeat(1100)}`, ''],
    ['trn:Synapse:acme:gateway', 'system'],
    ['trn::acme:gateway', 'system'],
    ['trn:synapse::gateway', 'tenant'],
    ['trn:synapse:-acme:gateway', 'tenant'],
    [`trn:synapse:${'a'.repeat(64)}:gateway`, 'tenant'],
    ['trn:synapse:acme:', 'type'],
    ['trn:synapse:acme:/name', 'type'],
    ['trn:synapse:acme:1type/name', 'type'],
    ['trn:synapse:acme:action/', 'name'],
    ['trn:synapse:acme:action/a//b', 'name'],
    ['trn:synapse:acme:action/a b', 'name'],
    ['trn:synapse:acme:definition/x@3', 'version'],
    ['trn:synapse:acme:definition/x@v0', 'version'],
    ['trn:synapse:acme:definition/x@v01', 'version'],
    ['trn:synapse:acme:definition/x@v', 'version'],
    ['trn:synapse:acme:definition/x@v1@v2', 'version'],
    ['trn:synapse:acme:definition/x@v99999999999999999999', 'version'],
  ])('rejects %s at %s', (s, path) => {
    const r = parseTrn(s);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('invalid_trn');
      expect(r.error.path).toBe(path);
    }
  });
});

describe('formatTrn', () => {
  it.each<[TrnParts, string]>([
    [{ system: 'synapse', tenant: 'acme', type: 'gateway' }, 'trn:synapse:acme:gateway'],
    [{ system: 'synapse', tenant: 'acme', type: 'definition', name: 'd', version: 2 }, 'trn:synapse:acme:definition/d@v2'],
    [{ system: 'synapse', tenant: 'acme', type: 'action', name: 's/a' }, 'trn:synapse:acme:action/s/a'],
  ])('formats %j', (parts, expected) => {
    expect(formatTrn(parts)).toEqual({ ok: true, value: expected });
  });

  it.each<[TrnParts]>([
    [{ system: 'synapse', tenant: 'ac:me', type: 'gateway' }],
    [{ system: 'synapse', tenant: 'acme', type: 'action', name: 'x@v1' }],
    [{ system: 'synapse', tenant: 'acme', type: 'definition', name: 'd', version: 0 }],
    [{ system: 'synapse', tenant: 'acme', type: 'definition', name: 'd', version: 1.5 }],
    [{ system: 'synapse', tenant: 'acme', type: 'action', name: '' }],
  ])('rejects %j', (parts) => {
    const r = formatTrn(parts);
    expect(r.ok).toBe(false);
  });
});

describe('helpers', () => {
  it.each([
    [actionTrn('acme', 'memory-sidecar-python', 'restart_process'), 'trn:synapse:acme:action/memory-sidecar-python/restart_process'],
    [definitionTrn('acme', 'deploy', 4), 'trn:synapse:acme:definition/deploy@v4'],
    [serviceSourceTrn('acme', 'svc'), 'trn:synapse:acme:service/svc'],
    [gatewaySourceTrn('acme'), 'trn:synapse:acme:gateway'],
  ])('%s', (actual, expected) => {
    expect(actual).toBe(expected);
    expect(isTrn(actual)).toBe(true);
  });

  it.each([
    ['acme', true],
    ['0acme', true],
    ['ACME_x-1', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['', false],
    ['_acme', false],
    ['ac me', false],
    ['ac.me', false],
  ])('isTenant(%s) = %s', (s, expected) => {
    expect(isTenant(s)).toBe(expected);
  });
});

describe('parseActionTarget', () => {
  it('resolves an action TRN', () => {
    expect(parseActionTarget('trn:synapse:acme:action/memory-sidecar-python/drop_cache')).toEqual({
      ok: true,
      value: { tenant: 'acme', serviceId: 'memory-sidecar-python', actionId: 'drop_cache' },
    });
  });

  it.each([
    ['trn:synapse:acme', 'invalid_trn', ''],
    ['trn:openact:acme:action/svc/act', 'invalid_target', 'system'],
    ['trn:synapse:acme:definition/svc/act', 'invalid_target', 'type'],
    ['trn:synapse:acme:action/svc/act@v1', 'invalid_target', 'version'],
    ['trn:synapse:acme:action/svc', 'invalid_target', 'name'],
    ['trn:synapse:acme:action/svc/act/extra', 'invalid_target', 'name'],
    ['trn:synapse:acme:action/svc/act.x', 'invalid_target', 'name'],
    ['trn:synapse:acme:action', 'invalid_target', 'name'],
  ])('rejects %s', (s, code, path) => {
    const r = parseActionTarget(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.error.code, r.error.path]).toEqual([code, path]);
  });
});

describe('parseServiceSource', () => {
  it.each([
    ['trn:synapse:acme:service/svc-1', { ok: true, value: { tenant: 'acme', serviceId: 'svc-1' } }],
    ['trn:synapse:acme:service/a/b', false],
    ['trn:synapse:acme:gateway', false],
    ['trn:openact:acme:executor', false],
    ['trn:synapse:acme:service/svc@v1', false],
  ] as const)('%s', (s, expected) => {
    const r = parseServiceSource(s);
    if (expected === false) expect(r.ok).toBe(false);
    else expect(r).toEqual(expected);
  });
});
