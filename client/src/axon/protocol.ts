/**
 * The wire shapes an Axon speaks (see docs/protocol.md): topics, the command
 * envelope it receives, the event envelope and discovery snapshot it sends.
 * Client-side definitions: nothing here imports gateway code. Pure.
 */

export const DEFAULT_TOPIC_PREFIX = 'synapse/v1';
export const DEFAULT_TENANT = 'default';
export const EVENT_TYPE_PREFIX = 'aionix.openact.action.';
export const SCHEMA_VERSION = '1.1.0';

/** `^[A-Za-z0-9_-]{1,128}$`: service ids, action ids. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** `^[a-z0-9][a-z0-9_-]{0,62}$`. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const LIMITS = {
  /** A whole MQTT payload. */
  maxPayloadBytes: 256 * 1024,
  /** An event's `data`, serialized. */
  maxDataBytes: 64 * 1024,
  /** What this SDK aims for per `data` (room for the other members of an output event). */
  targetDataBytes: 60 * 1024,
} as const;

/** Event types an Axon sends (without the `aionix.openact.action.` prefix). */
export type AxonEventType =
  | 'accepted'
  | 'started'
  | 'progress'
  | 'output'
  | 'heartbeat'
  | 'succeeded'
  | 'failed'
  | 'rejected'
  | 'cancelled'
  | 'expired';

export const OUTCOME_TYPES: ReadonlySet<AxonEventType> = new Set(['succeeded', 'failed', 'rejected', 'cancelled', 'expired']);

export interface Topics {
  discovery: string;
  command: string;
  event: string;
}

export function topicsFor(prefix: string, serviceId: string): Topics {
  const p = prefix.replace(/\/+$/, '');
  return { discovery: `${p}/discovery/${serviceId}`, command: `${p}/command/${serviceId}`, event: `${p}/event/${serviceId}` };
}

/** A registry definition carried by a command (`parameters.definition`). */
export interface CommandDefinition {
  id: string;
  kind: string;
  spec: Record<string, unknown>;
  version?: number;
}

/** The part of a CommandEnvelope an Axon relies on. Unknown fields are kept in `raw`. */
export interface Command {
  id: string;
  verb: 'execute' | 'cancel';
  command: string;
  timestamp: string;
  target: string;
  tenant: string;
  traceId: string;
  runId: string;
  actionId: string;
  serviceId: string | undefined;
  input: unknown;
  definition: CommandDefinition | undefined;
  /** Epoch ms, or undefined. */
  deadline: number | undefined;
  /** Seconds. */
  heartbeatTimeout: number | undefined;
  actorTrn: string | undefined;
  issuedBy: string | undefined;
  raw: Record<string, unknown>;
}

export type ParseCommandResult = { ok: true; command: Command } | { ok: false; reason: string; legacy: boolean };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const TRACE_ID = /^[0-9a-f]{32}$/;

/** The 32-hex trace id of a `traceId` (also from a full `traceparent`), or undefined. */
export function normaliseTraceId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.toLowerCase();
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(v);
  const id = m ? m[1]! : v;
  return TRACE_ID.test(id) && !/^0+$/.test(id) ? id : undefined;
}

/** Parses an RFC 3339 time to epoch ms (undefined when absent or unparseable). */
function parseTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Validates what an Axon needs of a received command. A payload that carries only
 * the legacy MVP fields (`action_id`, `issued_by`) is refused with `legacy: true`:
 * without a run id and a trace id there is nothing to report events about.
 */
export function parseCommand(body: unknown): ParseCommandResult {
  if (!isObject(body)) return { ok: false, reason: 'a command must be a JSON object', legacy: false };
  const legacy = typeof body.action_id === 'string' && body.schemaVersion === undefined;
  const fail = (reason: string): ParseCommandResult => ({ ok: false, reason, legacy });
  if (typeof body.schemaVersion !== 'string' || !/^1\.\d+\.\d+$/.test(body.schemaVersion)) return fail('schemaVersion must be 1.x.y');
  const id = str(body.id);
  if (!id || id.length > 128) return fail('id is required');
  const verbName = str(body.command);
  const verb = verbName === 'synapse.run.cancel' ? 'cancel' : verbName === 'synapse.action.execute' || verbName === 'aionix.openact.action.execute' ? 'execute' : undefined;
  if (!verb) return fail(`unknown command ${JSON.stringify(String(body.command).slice(0, 64))}`);
  const target = str(body.target);
  if (!target) return fail('target is required');
  const tenant = str(body.tenant);
  if (!tenant) return fail('tenant is required');
  const traceId = normaliseTraceId(body.traceId);
  if (!traceId) return fail('traceId must be a W3C trace id');
  const parameters = isObject(body.parameters) ? body.parameters : {};
  const runId = str(parameters.runId);
  if (!runId || runId.length > 128) return fail('parameters.runId is required');
  const actionId = str(parameters.actionId) ?? str(body.action_id) ?? /\/([A-Za-z0-9_-]+)$/.exec(target)?.[1];
  if (!actionId) return fail('parameters.actionId is required');
  let definition: CommandDefinition | undefined;
  if (parameters.definition !== undefined && parameters.definition !== null) {
    const d = parameters.definition;
    if (!isObject(d) || !str(d.kind) || (typeof d.id !== 'string' && typeof d.id !== 'number')) return fail('parameters.definition must be {id, kind, spec}');
    definition = { id: String(d.id), kind: d.kind as string, spec: isObject(d.spec) ? d.spec : {}, ...(typeof d.version === 'number' ? { version: d.version } : {}) };
  }
  const deadline = body.deadline === undefined ? undefined : parseTime(body.deadline);
  if (body.deadline !== undefined && deadline === undefined) return fail('deadline must be an RFC 3339 time');
  const hb = typeof body.heartbeatTimeout === 'number' && Number.isFinite(body.heartbeatTimeout) && body.heartbeatTimeout > 0 ? body.heartbeatTimeout : undefined;
  return {
    ok: true,
    command: {
      id,
      verb,
      command: verbName!,
      timestamp: typeof body.timestamp === 'string' ? body.timestamp : '',
      target,
      tenant,
      traceId,
      runId,
      actionId,
      serviceId: str(parameters.serviceId),
      input: parameters.input === undefined ? null : parameters.input,
      definition,
      deadline,
      heartbeatTimeout: hb,
      actorTrn: str(body.actorTrn),
      issuedBy: str(body.issued_by),
      raw: body,
    },
  };
}

/** An EventEnvelope (CloudEvents 1.0 structured JSON with the aionix extensions). */
export interface EventEnvelope {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  datacontenttype: 'application/json';
  data: EventData;
  aionixSchemaVersion: string;
  tenant: string;
  traceId: string;
  resourceTrn: string;
  runId: string;
  correlationId: string;
  actorTrn?: string;
}

/** `data`: `{status, output?, error?, progress?, chunk?}` plus any other members. */
export interface EventData {
  status: string | number;
  output?: unknown;
  error?: unknown;
  progress?: number;
  chunk?: string;
  [member: string]: unknown;
}

export function serviceSourceTrn(tenant: string, serviceId: string): string {
  return `trn:synapse:${tenant}:service/${serviceId}`;
}

export interface BuildEventParams {
  id: string;
  /** Epoch ms. */
  now: number;
  tenant: string;
  serviceId: string;
  type: AxonEventType;
  data: EventData;
  command: Pick<Command, 'id' | 'target' | 'traceId' | 'runId'>;
}

/**
 * An event about a command: `source` is this service, `resourceTrn` the command's
 * `target`, `correlationId` its id, `runId` its `parameters.runId`, `traceId` copied.
 * `data` must already fit (see `fitData`).
 */
export function buildEvent(p: BuildEventParams): EventEnvelope {
  return {
    specversion: '1.0',
    id: p.id,
    source: serviceSourceTrn(p.tenant, p.serviceId),
    type: `${EVENT_TYPE_PREFIX}${p.type}`,
    time: new Date(p.now).toISOString(),
    datacontenttype: 'application/json',
    data: p.data,
    aionixSchemaVersion: SCHEMA_VERSION,
    tenant: p.tenant,
    traceId: p.command.traceId,
    resourceTrn: p.command.target,
    runId: p.command.runId,
    correlationId: p.command.id,
  };
}

/** An action button of the service: `{action_id, label, style?, confirm?}` in the snapshot. */
export interface ActionItem {
  id: string;
  label?: string;
  style?: string;
  confirm?: boolean | string;
}

export interface SnapshotParams {
  serviceId: string;
  name?: string;
  status?: 'online' | 'warning' | 'error' | 'offline';
  /** Seconds. */
  ttl: number;
  actions: readonly ActionItem[];
  runners?: readonly string[];
  authToken?: string;
  description?: string;
  group?: string;
  tags?: readonly string[];
  message?: string;
}

/** A Synapse discovery v1 snapshot: the actions as one `action_group` component. */
export function buildSnapshot(p: SnapshotParams): Record<string, unknown> {
  const snapshot: Record<string, unknown> = {
    api_version: 'v1',
    id: p.serviceId,
    name: p.name ?? p.serviceId,
    status: p.status ?? 'online',
    ttl: p.ttl,
  };
  if (p.authToken !== undefined) snapshot.auth_token = p.authToken;
  if (p.description !== undefined) snapshot.description = p.description;
  if (p.group !== undefined) snapshot.group = p.group;
  if (p.tags !== undefined) snapshot.tags = [...p.tags];
  if (p.message !== undefined) snapshot.message = p.message;
  if (p.runners && p.runners.length > 0) snapshot.runners = [...new Set(p.runners)];
  if (p.actions.length > 0) {
    snapshot.layout = { type: 'sections', root: [{ type: 'section', title: 'Actions', children: ['actions'] }] };
    snapshot.components = {
      actions: {
        id: 'actions',
        type: 'action_group',
        label: 'Actions',
        items: p.actions.map((a) => ({
          action_id: a.id,
          label: a.label ?? a.id,
          ...(a.style !== undefined ? { style: a.style } : {}),
          ...(a.confirm !== undefined ? { confirm: a.confirm } : {}),
        })),
      },
    };
  }
  return snapshot;
}
