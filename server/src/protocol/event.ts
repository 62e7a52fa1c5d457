/**
 * EventEnvelope: CloudEvents 1.0 structured JSON with the aionix extensions, on
 * `{prefix}/event/{serviceId}` and `POST /api/v1/events`. Pure: ids and the clock
 * are parameters.
 */
import { z } from 'zod';
import { isTraceId, isUuid, normaliseTraceId } from './ids.js';
import { findUnstorableString, isPlainObject, jsonByteSize, UNSTORABLE_MESSAGE, parseJsonObjectText, type JsonBytesErrorCode } from './json.js';
import { err, ok, type Result } from './result.js';
import {
  ENVELOPE_SCHEMA_VERSION,
  envelopeIdSchema,
  MAX_ENVELOPE_ID_CHARS,
  firstIssue,
  isSupportedSchemaVersion,
  rfc3339Schema,
  tenantSchema,
  traceIdSchema,
  trnSchema,
} from './schemas.js';
import { formatRfc3339, isRfc3339 } from './time.js';
import { gatewaySourceTrn, isTenant, isTrn, parseServiceSource, type ServiceSource, TENANT_PATTERN } from './trn.js';

export const EVENT_TYPE_PREFIX = 'aionix.openact.action.';
export const EVENT_SCHEMA_VERSION = ENVELOPE_SCHEMA_VERSION;

/**
 * Event types an Axon emits. `expired` is also emitted by the gateway (its sweeper); an
 * Axon sends it when it drops a command whose deadline had passed on arrival.
 */
export const AXON_EVENT_TYPES = [
  'accepted',
  'started',
  'progress',
  'output',
  'heartbeat',
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
  'expired',
] as const;
export type AxonEventType = (typeof AXON_EVENT_TYPES)[number];

/**
 * Event types the gateway emits: the run's own lifecycle, the sweeper's outcomes, and
 * `cancelled` when the sweeper ends a run whose cancel request the Axon never confirmed.
 */
export const GATEWAY_EVENT_TYPES = ['requested', 'dispatched', 'timed_out', 'lost', 'expired', 'cancelled'] as const;
export type GatewayEventType = (typeof GATEWAY_EVENT_TYPES)[number];

/** Every short event type (`aionix.openact.action.{short}`). */
export const EVENT_SHORT_TYPES = [
  'requested',
  'dispatched',
  'accepted',
  'started',
  'progress',
  'output',
  'heartbeat',
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
  'timed_out',
  'lost',
  'expired',
] as const;
export type EventShortType = (typeof EVENT_SHORT_TYPES)[number];

export const EVENT_TYPES = EVENT_SHORT_TYPES.map((t) => `${EVENT_TYPE_PREFIX}${t}` as const);
export type EventType = `${typeof EVENT_TYPE_PREFIX}${EventShortType}`;

export function eventType(short: EventShortType): EventType {
  return `${EVENT_TYPE_PREFIX}${short}`;
}

/** The short form of a full event type, or `null` for an unknown type. */
export function shortEventType(type: unknown): EventShortType | null {
  if (typeof type !== 'string' || !type.startsWith(EVENT_TYPE_PREFIX)) return null;
  const short = type.slice(EVENT_TYPE_PREFIX.length);
  return (EVENT_SHORT_TYPES as readonly string[]).includes(short) ? (short as EventShortType) : null;
}

export const EVENT_LIMITS = {
  /** Whole envelope over MQTT / HTTP. */
  maxBytes: 256 * 1024,
  /** `data`, serialized. */
  maxDataBytes: 64 * 1024,
  maxRelatedTrns: 64,
} as const;

/** `data`: `{status, output?, error?, progress?, chunk?}`; other members are kept. */
export const EventDataSchema = z.looseObject({
  status: z.union([z.string().min(1).max(64), z.number().int()]),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  progress: z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1').optional(),
  chunk: z.string().optional(),
});
export type EventData = z.output<typeof EventDataSchema>;

/** The envelope schema, fields in validation order. Unknown attributes are dropped. */
export const EventEnvelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: envelopeIdSchema,
  source: trnSchema,
  type: z.enum(EVENT_TYPES as unknown as [EventType, ...EventType[]]),
  time: rfc3339Schema,
  datacontenttype: z.literal('application/json').default('application/json'),
  data: EventDataSchema,
  aionixSchemaVersion: z.string(),
  tenant: tenantSchema,
  traceId: traceIdSchema,
  resourceTrn: trnSchema,
  runId: envelopeIdSchema,
  correlationId: envelopeIdSchema,
  actorTrn: trnSchema.optional(),
  relatedTrns: z.array(trnSchema).max(EVENT_LIMITS.maxRelatedTrns).optional(),
});
export type EventEnvelope = z.output<typeof EventEnvelopeSchema>;

export type EventErrorCode = 'invalid_event' | 'unsupported_schema_version' | 'service_mismatch' | 'too_large';

/** A validated event from an Axon. */
export interface NormalisedEvent {
  readonly id: string;
  readonly source: string;
  /** From `source`. */
  readonly serviceId: string;
  readonly tenant: string;
  readonly type: EventType;
  readonly shortType: AxonEventType;
  readonly time: string;
  readonly data: EventData;
  readonly traceId: string;
  readonly resourceTrn: string;
  readonly runId: string;
  readonly correlationId: string;
  readonly actorTrn?: string;
  readonly relatedTrns?: readonly string[];
  /** The validated envelope, as stored and forwarded to webhooks. */
  readonly envelope: EventEnvelope;
  /**
   * The payload's text when it holds exactly the envelope's members and values
   * (an Axon that sends what the validation returns): the envelope's JSON, up
   * to member order and number spelling, without serialising it again.
   */
  readonly envelopeText?: string;
}

export interface ParseEventOptions {
  /** The `{serviceId}` suffix of the topic the event came on; absent over HTTP. */
  readonly topicServiceId?: string;
}

const invalid = (path: string, message: string) => err('invalid_event' as const, path, message);

/**
 * Validates an EventEnvelope from an Axon. Order: object; `specversion`;
 * `aionixSchemaVersion` (string, then 1.x.y → `unsupported_schema_version`); the
 * fields in schema order; `type` is one an Axon may emit; `source` is
 * `trn:synapse:{tenant}:service/{serviceId}` with the envelope's tenant; the topic's
 * service id (`service_mismatch`); `data` at most 64 KiB serialized (`too_large`).
 */
export function parseEventEnvelope(body: unknown, opts: ParseEventOptions = {}): Result<NormalisedEvent, EventErrorCode> {
  return parseEnvelope(body, opts, true);
}

/**
 * `checkStrings`: false when the body comes from parseJsonObjectText, which has checked its strings already.
 * `text`: the JSON text `body` was parsed from, if any.
 */
function parseEnvelope(body: unknown, opts: ParseEventOptions, checkStrings: boolean, text?: string): Result<NormalisedEvent, EventErrorCode> {
  if (!isPlainObject(body)) return invalid('', 'an event envelope must be a JSON object');
  if (checkStrings) {
    const nul = findUnstorableString(body);
    if (nul !== null) return invalid(nul, `${nul}: ${UNSTORABLE_MESSAGE}`);
  }
  if (body.specversion !== '1.0') return invalid('specversion', 'specversion: must be "1.0"');
  const version = body.aionixSchemaVersion;
  if (typeof version !== 'string') {
    return invalid('aionixSchemaVersion', version === undefined ? 'aionixSchemaVersion: is required' : 'aionixSchemaVersion: must be a string');
  }
  if (!isSupportedSchemaVersion(version)) {
    return err(
      'unsupported_schema_version',
      'aionixSchemaVersion',
      `unsupported aionixSchemaVersion ${JSON.stringify(version.slice(0, 32))}; supported: ${EVENT_SCHEMA_VERSION} (any 1.x.y is accepted)`,
    );
  }
  let envelope: EventEnvelope;
  let shortType: AxonEventType;
  let source: { ok: true; value: ServiceSource };
  let asSent = false;
  const fast = fastAxonEnvelope(body);
  if (fast !== undefined) {
    ({ envelope, shortType, asSent } = fast);
    source = { ok: true, value: fast.source };
  } else {
    const parsed = EventEnvelopeSchema.safeParse(body);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error);
      return invalid(issue.path, issue.message);
    }
    envelope = parsed.data;
    const short = shortEventType(envelope.type);
    if (short === null || !(AXON_EVENT_TYPES as readonly string[]).includes(short)) {
      return invalid('type', `type: ${envelope.type} is emitted by the gateway only`);
    }
    shortType = short as AxonEventType;
    const parsedSource = parseServiceSource(envelope.source);
    if (!parsedSource.ok) return invalid('source', 'source: must be trn:synapse:{tenant}:service/{serviceId}');
    source = parsedSource;
  }
  if (source.value.tenant !== envelope.tenant) {
    return invalid('source', `source: tenant ${JSON.stringify(source.value.tenant)} differs from the envelope's tenant`);
  }
  if (opts.topicServiceId !== undefined && source.value.serviceId !== opts.topicServiceId) {
    return err(
      'service_mismatch',
      'source',
      `source service ${JSON.stringify(source.value.serviceId)} differs from the topic's service ${JSON.stringify(opts.topicServiceId)}`,
    );
  }
  const size = jsonByteSize(envelope.data);
  if (!size.ok) return invalid('data', 'data: not representable as JSON');
  if (size.value > EVENT_LIMITS.maxDataBytes) {
    return err('too_large', 'data', `data is ${size.value} bytes serialized; the limit is ${EVENT_LIMITS.maxDataBytes}`);
  }
  const event: { -readonly [K in keyof NormalisedEvent]: NormalisedEvent[K] } = normalisedEvent(envelope, source.value.serviceId, shortType);
  if (envelope.actorTrn !== undefined) event.actorTrn = envelope.actorTrn;
  if (envelope.relatedTrns !== undefined) event.relatedTrns = envelope.relatedTrns;
  if (asSent && text !== undefined) event.envelopeText = text;
  return ok(event);
}

/**
 * The NormalisedEvent of a validated envelope from `serviceId`'s run (without
 * `actorTrn`, `relatedTrns` and `envelopeText`). The gateway's own events
 * (`dispatched`, the sweeper's endings) travel the ingest the same way; their
 * short types are outside AxonEventType, which only an Axon's input is held to.
 */
export function normalisedEvent(envelope: EventEnvelope, serviceId: string, shortType: EventShortType): NormalisedEvent {
  return {
    id: envelope.id,
    source: envelope.source,
    serviceId,
    tenant: envelope.tenant,
    type: envelope.type,
    shortType: shortType as AxonEventType,
    time: envelope.time,
    data: envelope.data,
    traceId: envelope.traceId,
    resourceTrn: envelope.resourceTrn,
    runId: envelope.runId,
    correlationId: envelope.correlationId,
    envelope,
  };
}

const AXON_TYPES: ReadonlyMap<string, AxonEventType> = new Map(AXON_EVENT_TYPES.map((short) => [eventType(short), short]));
const DATA_KEYS = ['status', 'output', 'error', 'progress', 'chunk'] as const;
const DATA_KEY_SET: ReadonlySet<string> = new Set(DATA_KEYS);
const isEnvelopeId = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= MAX_ENVELOPE_ID_CHARS;

/**
 * The hot path of parseEventEnvelope: the common Axon event checked by hand,
 * without zod (which took about a third of the ingest's validation time).
 * Returns exactly what `EventEnvelopeSchema` returns (same members, same
 * order: the schema's, then `data`'s other members in their order), plus the
 * parsed source, for an event that passes every check of the schema and the
 * Axon-type and service-source checks after it; undefined for anything else,
 * including what it does not handle (`relatedTrns`, a numeric `status`, a
 * `__proto__` member in `data`): the schema then decides, with its messages.
 * test: event.test.ts compares it with the schema.
 */
export function fastAxonEnvelope(
  body: Record<string, unknown>,
): { envelope: EventEnvelope; shortType: AxonEventType; source: ServiceSource; asSent: boolean } | undefined {
  if (body.specversion !== '1.0' || !isEnvelopeId(body.id) || body.relatedTrns !== undefined) return undefined;
  const type = body.type;
  const shortType = typeof type === 'string' ? AXON_TYPES.get(type) : undefined;
  if (shortType === undefined) return undefined;
  const time = body.time;
  if (typeof time !== 'string' || !isRfc3339(time)) return undefined;
  const contentType = body.datacontenttype;
  if (contentType !== undefined && contentType !== 'application/json') return undefined;
  const data = fastData(body.data);
  if (data === undefined) return undefined;
  const { aionixSchemaVersion, tenant, resourceTrn, runId, correlationId, actorTrn } = body;
  if (typeof aionixSchemaVersion !== 'string' || typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) return undefined;
  const traceId = normaliseTraceId(body.traceId);
  if (traceId === null || !isTrn(resourceTrn) || !isEnvelopeId(runId) || !isEnvelopeId(correlationId)) return undefined;
  if (actorTrn !== undefined && !isTrn(actorTrn)) return undefined;
  const source = parseServiceSource(body.source);
  if (!source.ok) return undefined;
  const envelope: EventEnvelope = {
    specversion: '1.0',
    id: body.id,
    source: body.source as string,
    type: type as EventType,
    time,
    datacontenttype: 'application/json',
    data,
    aionixSchemaVersion,
    tenant,
    traceId,
    resourceTrn,
    runId,
    correlationId,
  };
  if (actorTrn !== undefined) envelope.actorTrn = actorTrn;
  // The body holds exactly the envelope's members (every one taken from it as
  // is, `data` with the same members) when it has as many, stated its content
  // type and gave the trace id in its normal form.
  const asSent = Object.keys(body).length === Object.keys(envelope).length && contentType === 'application/json' && body.traceId === traceId;
  return { envelope, shortType, source: source.value, asSent };
}

/** `EventDataSchema`'s output for a plain `data` with a string `status`, or undefined. */
function fastData(data: unknown): EventData | undefined {
  if (!isPlainObject(data) || Object.prototype.hasOwnProperty.call(data, '__proto__')) return undefined;
  const { status, progress, chunk } = data;
  if (typeof status !== 'string' || status.length < 1 || status.length > 64) return undefined;
  if (progress !== undefined && (typeof progress !== 'number' || !(progress >= 0 && progress <= 1))) return undefined;
  if (chunk !== undefined && typeof chunk !== 'string') return undefined;
  const out: Record<string, unknown> = {};
  for (const key of DATA_KEYS) if (key in data) out[key] = data[key];
  for (const key in data) if (!DATA_KEY_SET.has(key)) out[key] = data[key];
  return out as EventData;
}

export interface ParseEventBytesOptions extends ParseEventOptions {
  /** Default 256 KiB. */
  readonly maxBytes?: number;
}

/** Bytes → event: size (`too_large`), UTF-8, one JSON object, then `parseEventEnvelope`. */
export function parseEventBytes(
  buf: Uint8Array,
  opts: ParseEventBytesOptions = {},
): Result<NormalisedEvent, EventErrorCode | JsonBytesErrorCode> {
  const parsed = parseJsonObjectText(buf, opts.maxBytes ?? EVENT_LIMITS.maxBytes);
  if (!parsed.ok) return parsed;
  return parseEnvelope(parsed.value.object, opts, false, parsed.value.text);
}

export interface BuildEventParams {
  /** A unique id; the gateway uses a UUIDv7. */
  readonly id: string;
  /** Epoch milliseconds: the `time`. */
  readonly now: number;
  /** The event's source TRN. */
  readonly source: string;
  readonly tenant: string;
  readonly shortType: EventShortType;
  readonly data: EventData;
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** The action TRN (the command's `target`). */
  readonly resourceTrn: string;
  readonly runId: string;
  /** The command id. */
  readonly correlationId: string;
  readonly actorTrn?: string;
  readonly relatedTrns?: readonly string[];
}

/** Builds and validates an EventEnvelope (any type, any source). */
export function buildEventEnvelope(p: BuildEventParams): Result<EventEnvelope, 'invalid_event' | 'too_large'> {
  const time = formatRfc3339(p.now);
  if (time === null) return invalid('time', 'now is not a valid time');
  if (!isTraceId(p.traceId)) return invalid('traceId', 'traceId must be 32 lowercase hex digits, not all zeros');
  const candidate: Record<string, unknown> = {
    specversion: '1.0',
    id: p.id,
    source: p.source,
    type: eventType(p.shortType),
    time,
    datacontenttype: 'application/json',
    data: p.data,
    aionixSchemaVersion: EVENT_SCHEMA_VERSION,
    tenant: p.tenant,
    traceId: p.traceId,
    resourceTrn: p.resourceTrn,
    runId: p.runId,
    correlationId: p.correlationId,
  };
  if (p.actorTrn !== undefined) candidate.actorTrn = p.actorTrn;
  if (p.relatedTrns !== undefined) candidate.relatedTrns = [...p.relatedTrns];
  const built = fastBuiltEnvelope(candidate);
  const parsed = built ? { success: true as const, data: built } : EventEnvelopeSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return invalid(issue.path, issue.message);
  }
  const size = jsonByteSize(parsed.data.data);
  if (!size.ok) return invalid('data', 'data: not representable as JSON');
  if (size.value > EVENT_LIMITS.maxDataBytes) {
    return err('too_large', 'data', `data is ${size.value} bytes serialized; the limit is ${EVENT_LIMITS.maxDataBytes}`);
  }
  return ok(parsed.data);
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/**
 * What `EventEnvelopeSchema` returns for an envelope built by buildEventEnvelope
 * (its members already in the schema's order, time and trace id in normal
 * form), checked by hand as fastAxonEnvelope checks an Axon's; undefined hands
 * it to the schema (`relatedTrns`, a `data` fastData does not take, anything
 * invalid). test: event.test.ts compares both.
 */
function fastBuiltEnvelope(c: Record<string, unknown>): EventEnvelope | undefined {
  if (c.relatedTrns !== undefined || !isEnvelopeId(c.id) || !isTrn(c.source) || typeof c.type !== 'string' || !EVENT_TYPE_SET.has(c.type)) return undefined;
  if (typeof c.tenant !== 'string' || !TENANT_PATTERN.test(c.tenant) || !isTrn(c.resourceTrn) || !isEnvelopeId(c.runId) || !isEnvelopeId(c.correlationId)) return undefined;
  if (c.actorTrn !== undefined && !isTrn(c.actorTrn)) return undefined;
  const data = fastData(c.data);
  if (data === undefined) return undefined;
  c.data = data;
  return c as unknown as EventEnvelope;
}

export interface BuildGatewayEventParams extends Omit<BuildEventParams, 'source' | 'shortType'> {
  readonly shortType: GatewayEventType;
}

/**
 * Builds an event the gateway emits (`source` = `trn:synapse:{tenant}:gateway`).
 * The id must be a UUID (the gateway generates UUIDv7s).
 */
export function buildGatewayEvent(p: BuildGatewayEventParams): Result<EventEnvelope, 'invalid_event' | 'too_large'> {
  if (!(GATEWAY_EVENT_TYPES as readonly string[]).includes(p.shortType)) {
    return invalid('type', `type: ${String(p.shortType)} is not emitted by the gateway`);
  }
  if (!isTenant(p.tenant)) return invalid('tenant', 'invalid tenant');
  if (!isUuid(p.id)) return invalid('id', 'id must be a UUID');
  if (!isTrn(p.resourceTrn)) return invalid('resourceTrn', 'resourceTrn must be a TRN');
  return buildEventEnvelope({ ...p, source: gatewaySourceTrn(p.tenant) });
}
