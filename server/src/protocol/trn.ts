/**
 * TRNs (resource names): `trn:{system}:{tenant}:{type}[/{name}][@v{N}]`.
 *
 * - system: `^[a-z][a-z0-9-]{0,31}$` (`synapse`, `stepflow`, `openact`, …)
 * - tenant: `^[a-z0-9][a-z0-9_-]{0,62}$`, case-insensitive (1–63 characters)
 * - type:   `^[A-Za-z][A-Za-z0-9_-]{0,63}$` (`action`, `definition`, `service`, `gateway`, …)
 * - name:   optional; one or more `/`-separated segments of `A-Z a-z 0-9 . _ ~ -`
 *           (no empty segment; `gateway`-style TRNs have no name)
 * - version: optional `@v{N}`, N a positive integer without leading zeros (≤ 2^53−1)
 * - at most 1024 characters in total
 */
import { isActionId, isServiceId } from './ids.js';
import { err, ok, type Result } from './result.js';

export const TRN_SYSTEM_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
export const TRN_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const TRN_NAME_SEGMENT_PATTERN = /^[A-Za-z0-9._~-]+$/;
export const TRN_MAX_LENGTH = 1024;
/** The system of every TRN this gateway mints. */
export const SYNAPSE_SYSTEM = 'synapse';

export interface TrnParts {
  readonly system: string;
  readonly tenant: string;
  readonly type: string;
  /** Absent for TRNs without a `/name` part, such as `trn:synapse:acme:gateway`. */
  readonly name?: string;
  readonly version?: number;
}

export type TrnErrorCode = 'invalid_trn';

export function isTenant(s: unknown): s is string {
  return typeof s === 'string' && TENANT_PATTERN.test(s);
}

const VERSION_PATTERN = /^[1-9][0-9]*$/;

/**
 * TRNs parsed before, with their parts (frozen): every event names its
 * source and resource, and an Axon sends the same few again and again.
 */
const knownTrns = new Map<string, TrnParts>();
/** TRNs remembered at most; the memo starts over when full. */
const KNOWN_TRNS_LIMIT = 1_024;

export function parseTrn(s: unknown): Result<TrnParts, TrnErrorCode> {
  if (typeof s !== 'string') return err('invalid_trn', '', 'a TRN must be a string');
  const known = knownTrns.get(s);
  if (known) return ok(known);
  const parsed = parseNewTrn(s);
  if (parsed.ok) {
    if (knownTrns.size >= KNOWN_TRNS_LIMIT) knownTrns.clear();
    knownTrns.set(s, Object.freeze(parsed.value));
  }
  return parsed;
}

function parseNewTrn(s: string): Result<TrnParts, TrnErrorCode> {
  if (s.length > TRN_MAX_LENGTH) {
    return err('invalid_trn', '', `a TRN is at most ${TRN_MAX_LENGTH} characters`);
  }
  const fields = s.split(':');
  if (fields.length !== 4 || fields[0] !== 'trn') {
    return err('invalid_trn', '', 'expected trn:{system}:{tenant}:{type}/{name}[@v{N}]');
  }
  const system = fields[1] ?? '';
  const tenant = fields[2] ?? '';
  let resource = fields[3] ?? '';
  if (!TRN_SYSTEM_PATTERN.test(system)) {
    return err('invalid_trn', 'system', `invalid TRN system ${JSON.stringify(system)}`);
  }
  if (!TENANT_PATTERN.test(tenant)) {
    return err('invalid_trn', 'tenant', `invalid TRN tenant ${JSON.stringify(tenant)}`);
  }
  let version: number | undefined;
  const at = resource.indexOf('@');
  if (at !== -1) {
    const v = resource.slice(at + 1);
    if (!v.startsWith('v') || !VERSION_PATTERN.test(v.slice(1))) {
      return err('invalid_trn', 'version', 'a TRN version is @v{N} with N a positive integer');
    }
    version = Number(v.slice(1));
    if (!Number.isSafeInteger(version)) {
      return err('invalid_trn', 'version', 'TRN version is too large');
    }
    resource = resource.slice(0, at);
  }
  const slash = resource.indexOf('/');
  const type = slash === -1 ? resource : resource.slice(0, slash);
  if (!TRN_TYPE_PATTERN.test(type)) {
    return err('invalid_trn', 'type', `invalid TRN type ${JSON.stringify(type)}`);
  }
  let name: string | undefined;
  if (slash !== -1) {
    name = resource.slice(slash + 1);
    if (!name.split('/').every((segment) => TRN_NAME_SEGMENT_PATTERN.test(segment))) {
      return err('invalid_trn', 'name', `invalid TRN name ${JSON.stringify(name)}`);
    }
  }
  const parts: { -readonly [K in keyof TrnParts]: TrnParts[K] } = { system, tenant, type };
  if (name !== undefined) parts.name = name;
  if (version !== undefined) parts.version = version;
  return ok(parts);
}

export function isTrn(s: unknown): s is string {
  return parseTrn(s).ok;
}

/** Formats parts as a TRN, validating them with the same rules as `parseTrn`. */
export function formatTrn(parts: TrnParts): Result<string, TrnErrorCode> {
  let s = `trn:${parts.system}:${parts.tenant}:${parts.type}`;
  if (parts.name !== undefined) s += `/${parts.name}`;
  if (parts.version !== undefined) s += `@v${parts.version}`;
  const parsed = parseTrn(s);
  if (!parsed.ok) return parsed;
  // Reject parts that only round-trip by accident (for example a ':' or '@' inside a part).
  const p = parsed.value;
  if (
    p.system !== parts.system ||
    p.tenant !== parts.tenant ||
    p.type !== parts.type ||
    p.name !== parts.name ||
    p.version !== parts.version
  ) {
    return err('invalid_trn', '', 'TRN parts contain reserved characters');
  }
  return ok(s);
}

// The helpers below assume already-validated ids (they do not check them); use
// parseTrn / parseActionTarget to validate a TRN received from elsewhere.

/** `trn:synapse:{tenant}:action/{serviceId}/{actionId}` */
export function actionTrn(tenant: string, serviceId: string, actionId: string): string {
  return `trn:${SYNAPSE_SYSTEM}:${tenant}:action/${serviceId}/${actionId}`;
}

/** `trn:synapse:{tenant}:definition/{id}@v{version}` */
export function definitionTrn(tenant: string, id: string, version: number): string {
  return `trn:${SYNAPSE_SYSTEM}:${tenant}:definition/${id}@v${version}`;
}

/** `trn:synapse:{tenant}:service/{serviceId}`: the `source` of an Axon's events. */
export function serviceSourceTrn(tenant: string, serviceId: string): string {
  return `trn:${SYNAPSE_SYSTEM}:${tenant}:service/${serviceId}`;
}

/** `trn:synapse:{tenant}:gateway`: the `source` of commands and gateway events. */
export function gatewaySourceTrn(tenant: string): string {
  return `trn:${SYNAPSE_SYSTEM}:${tenant}:gateway`;
}

export interface ActionTarget {
  readonly tenant: string;
  readonly serviceId: string;
  readonly actionId: string;
}

export type ActionTargetErrorCode = TrnErrorCode | 'invalid_target';

/**
 * Resolves a service-action TRN (`trn:synapse:{tenant}:action/{serviceId}/{actionId}`,
 * no version). A well-formed TRN of another kind is `invalid_target`.
 */
export function parseActionTarget(trn: unknown): Result<ActionTarget, ActionTargetErrorCode> {
  const parsed = parseTrn(trn);
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  if (p.system !== SYNAPSE_SYSTEM) {
    return err('invalid_target', 'system', `expected a synapse TRN, got system ${JSON.stringify(p.system)}`);
  }
  if (p.type !== 'action') {
    return err('invalid_target', 'type', `expected an action TRN, got type ${JSON.stringify(p.type)}`);
  }
  if (p.version !== undefined) {
    return err('invalid_target', 'version', 'a service action TRN has no version');
  }
  const segments = (p.name ?? '').split('/');
  const [serviceId, actionId] = segments;
  if (segments.length !== 2 || !isServiceId(serviceId) || !isActionId(actionId)) {
    return err('invalid_target', 'name', 'expected action/{serviceId}/{actionId}');
  }
  return ok({ tenant: p.tenant, serviceId, actionId });
}

export interface ServiceSource {
  readonly tenant: string;
  readonly serviceId: string;
}

/** Resolves an Axon event source `trn:synapse:{tenant}:service/{serviceId}`. */
export function parseServiceSource(trn: unknown): Result<ServiceSource, ActionTargetErrorCode> {
  const parsed = parseTrn(trn);
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  if (p.system !== SYNAPSE_SYSTEM || p.type !== 'service' || p.version !== undefined || !isServiceId(p.name)) {
    return err('invalid_target', '', 'expected trn:synapse:{tenant}:service/{serviceId}');
  }
  return ok({ tenant: p.tenant, serviceId: p.name });
}
