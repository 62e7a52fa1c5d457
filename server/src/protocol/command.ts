/**
 * CommandEnvelope (schemaVersion 1.1.0): what the gateway publishes on
 * `{prefix}/command/{serviceId}` and what `POST /actions/{trn}/execute` accepts.
 * Pure: ids and the clock are parameters.
 */
import { z } from 'zod';
import { isActionId, isServiceId, isTraceId, isUuidV7 } from './ids.js';
import { findUnstorableString, isPlainObject, jsonByteSize, UNSTORABLE_MESSAGE } from './json.js';
import { err, ok, type Result } from './result.js';
import {
  ENVELOPE_SCHEMA_VERSION,
  envelopeIdSchema,
  firstIssue,
  isSupportedSchemaVersion,
  MAX_ENVELOPE_ID_CHARS,
  rfc3339Schema,
  tenantSchema,
  traceIdSchema,
  trnSchema,
} from './schemas.js';
import { formatRfc3339 } from './time.js';
import { actionTrn, gatewaySourceTrn, isTenant, isTrn, parseActionTarget, type ActionTarget } from './trn.js';

export const COMMAND_SCHEMA_VERSION = ENVELOPE_SCHEMA_VERSION;

/** Commands the gateway sends. */
export const GATEWAY_COMMANDS = ['synapse.action.execute', 'synapse.run.cancel'] as const;
export type GatewayCommand = (typeof GATEWAY_COMMANDS)[number];
/** Commands accepted from callers: ours plus the Stepflow/OpenAct execute verb (same meaning as `synapse.action.execute`). */
export const ACCEPTED_COMMANDS = [...GATEWAY_COMMANDS, 'aionix.openact.action.execute'] as const;
export type AcceptedCommand = (typeof ACCEPTED_COMMANDS)[number];

export const COMMAND_LIMITS = {
  maxIdempotencyKeyChars: 255,
  maxParametersBytes: 256 * 1024,
  maxAuthzScopes: 64,
  maxAuthzScopeChars: 256,
  maxIssuedByChars: 256,
} as const;

export const CommandDefinitionSchema = z.object({
  id: z.string().min(1).max(128),
  kind: z.string().min(1).max(64),
  spec: z.unknown(),
  version: z.number().int().positive().optional(),
});
export type CommandDefinition = z.output<typeof CommandDefinitionSchema>;

/** The envelope schema, fields in validation order (the first failing field is reported). */
export const CommandEnvelopeSchema = z.object({
  schemaVersion: z.string(),
  id: envelopeIdSchema,
  timestamp: rfc3339Schema,
  command: z.enum(ACCEPTED_COMMANDS),
  source: trnSchema,
  target: trnSchema,
  tenant: tenantSchema,
  traceId: traceIdSchema,
  parameters: z.record(z.string(), z.unknown()),
  correlationId: envelopeIdSchema,
  idempotencyKey: z
    .string()
    .min(1, 'must not be empty')
    .max(COMMAND_LIMITS.maxIdempotencyKeyChars, `must be at most ${COMMAND_LIMITS.maxIdempotencyKeyChars} characters`)
    .optional(),
  actorTrn: trnSchema.optional(),
  authzScopes: z
    .array(z.string().min(1).max(COMMAND_LIMITS.maxAuthzScopeChars))
    .max(COMMAND_LIMITS.maxAuthzScopes)
    .optional(),
  deadline: rfc3339Schema.optional(),
  heartbeatTimeout: z.number().positive('must be > 0').finite().optional(),
  /** Legacy (MVP Axons): the action id. */
  action_id: z.string().optional(),
  /** Legacy (MVP Axons): who issued the command. */
  issued_by: z.string().optional(),
});

/** A validated envelope (unknown top-level fields are dropped; `traceId` is normalised). */
export type CommandEnvelope = z.output<typeof CommandEnvelopeSchema>;

/** The parameters of a command built by the gateway. */
export interface GatewayCommandParameters {
  readonly input: unknown;
  readonly runId: string;
  readonly serviceId: string;
  readonly actionId: string;
  readonly definition?: CommandDefinition;
}

/** The envelope the gateway publishes (with the legacy fields always present). */
export interface GatewayCommandEnvelope {
  readonly schemaVersion: typeof COMMAND_SCHEMA_VERSION;
  readonly id: string;
  readonly timestamp: string;
  readonly command: GatewayCommand;
  readonly source: string;
  readonly target: string;
  readonly tenant: string;
  readonly traceId: string;
  readonly parameters: GatewayCommandParameters;
  readonly correlationId: string;
  readonly idempotencyKey?: string;
  readonly actorTrn?: string;
  readonly authzScopes?: readonly string[];
  readonly deadline?: string;
  readonly heartbeatTimeout: number;
  readonly action_id: string;
  readonly issued_by: string;
}

export type CommandErrorCode = 'invalid_envelope' | 'unsupported_schema_version';

/** HTTP status for a command error on `POST /actions/{trn}/execute`. */
export function commandErrorHttpStatus(code: CommandErrorCode): 400 | 422 {
  return code === 'unsupported_schema_version' ? 422 : 400;
}

export interface BuildCommandParams {
  /** A UUIDv7 (see `uuidv7`); also the `correlationId`. */
  readonly id: string;
  /** Epoch milliseconds: the `timestamp`. */
  readonly now: number;
  readonly tenant: string;
  readonly serviceId: string;
  readonly actionId: string;
  readonly runId: string;
  readonly input: unknown;
  readonly definition?: CommandDefinition;
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  readonly idempotencyKey?: string;
  readonly actorTrn?: string;
  readonly authzScopes?: readonly string[];
  /** Epoch milliseconds. */
  readonly deadline?: number;
  /** Seconds. */
  readonly heartbeatTimeout: number;
  readonly command?: GatewayCommand;
  /** The legacy `issued_by` (for example the actor's name, or "user"). */
  readonly issuedBy: string;
}

const invalid = (path: string, message: string) => err('invalid_envelope' as const, path, message);

/** Builds (and validates) the envelope the gateway publishes for a run. */
export function buildCommandEnvelope(p: BuildCommandParams): Result<GatewayCommandEnvelope, 'invalid_envelope'> {
  if (!isUuidV7(p.id)) return invalid('id', 'id must be a UUIDv7');
  const timestamp = formatRfc3339(p.now);
  if (timestamp === null) return invalid('timestamp', 'now is not a valid time');
  if (!isTenant(p.tenant)) return invalid('tenant', 'invalid tenant');
  if (!isServiceId(p.serviceId)) return invalid('parameters.serviceId', 'invalid service id');
  if (!isActionId(p.actionId)) return invalid('parameters.actionId', 'invalid action id');
  if (!isTraceId(p.traceId)) return invalid('traceId', 'traceId must be 32 lowercase hex digits, not all zeros');
  if (typeof p.runId !== 'string' || p.runId === '' || p.runId.length > MAX_ENVELOPE_ID_CHARS) {
    return invalid('parameters.runId', `runId must be 1–${MAX_ENVELOPE_ID_CHARS} characters`);
  }
  if (typeof p.heartbeatTimeout !== 'number' || !Number.isFinite(p.heartbeatTimeout) || p.heartbeatTimeout <= 0) {
    return invalid('heartbeatTimeout', 'heartbeatTimeout must be a number of seconds > 0');
  }
  if (typeof p.issuedBy !== 'string' || p.issuedBy.length > COMMAND_LIMITS.maxIssuedByChars) {
    return invalid('issued_by', `issuedBy must be a string of at most ${COMMAND_LIMITS.maxIssuedByChars} characters`);
  }
  if (p.command !== undefined && !(ACCEPTED_COMMANDS as readonly string[]).includes(p.command)) return invalid('command', `command must be one of ${ACCEPTED_COMMANDS.join(', ')}`);
  if (p.idempotencyKey !== undefined && (typeof p.idempotencyKey !== 'string' || p.idempotencyKey.length < 1 || p.idempotencyKey.length > COMMAND_LIMITS.maxIdempotencyKeyChars)) {
    return invalid('idempotencyKey', `idempotencyKey must be 1–${COMMAND_LIMITS.maxIdempotencyKeyChars} characters`);
  }
  if (p.actorTrn !== undefined && !isTrn(p.actorTrn)) return invalid('actorTrn', 'actorTrn must be a TRN');
  if (p.authzScopes !== undefined) {
    if (!Array.isArray(p.authzScopes) || p.authzScopes.length > COMMAND_LIMITS.maxAuthzScopes) {
      return invalid('authzScopes', `authzScopes must be at most ${COMMAND_LIMITS.maxAuthzScopes} scopes`);
    }
    const bad = p.authzScopes.findIndex((s) => typeof s !== 'string' || s.length < 1 || s.length > COMMAND_LIMITS.maxAuthzScopeChars);
    if (bad >= 0) return invalid(`authzScopes[${bad}]`, `a scope must be 1–${COMMAND_LIMITS.maxAuthzScopeChars} characters`);
  }
  let deadline: string | undefined;
  if (p.deadline !== undefined) {
    const d = formatRfc3339(p.deadline);
    if (d === null) return invalid('deadline', 'deadline is not a valid time');
    deadline = d;
  }
  const parameters: { -readonly [K in keyof GatewayCommandParameters]: GatewayCommandParameters[K] } = {
    input: p.input === undefined ? null : p.input,
    runId: p.runId,
    serviceId: p.serviceId,
    actionId: p.actionId,
  };
  if (p.definition !== undefined) {
    const def = CommandDefinitionSchema.safeParse(p.definition);
    if (!def.success) {
      const issue = firstIssue(def.error);
      return invalid(issue.path === '' ? 'parameters.definition' : `parameters.definition.${issue.path}`, issue.message);
    }
    parameters.definition = p.definition;
  }
  const envelope: { -readonly [K in keyof GatewayCommandEnvelope]: GatewayCommandEnvelope[K] } = {
    schemaVersion: COMMAND_SCHEMA_VERSION,
    id: p.id,
    timestamp,
    command: p.command ?? 'synapse.action.execute',
    source: gatewaySourceTrn(p.tenant),
    target: actionTrn(p.tenant, p.serviceId, p.actionId),
    tenant: p.tenant,
    traceId: p.traceId,
    parameters,
    correlationId: p.id,
    heartbeatTimeout: p.heartbeatTimeout,
    action_id: p.actionId,
    issued_by: p.issuedBy,
  };
  if (p.idempotencyKey !== undefined) envelope.idempotencyKey = p.idempotencyKey;
  if (p.actorTrn !== undefined) envelope.actorTrn = p.actorTrn;
  if (p.authzScopes !== undefined) envelope.authzScopes = [...p.authzScopes];
  if (deadline !== undefined) envelope.deadline = deadline;
  // Every member is checked above (CommandEnvelopeSchema's rules, by hand: a
  // trigger's hot path); command.test.ts parses built envelopes with the schema.
  const size = jsonByteSize(parameters);
  if (!size.ok) return invalid('parameters', 'parameters are not representable as JSON');
  if (size.value > COMMAND_LIMITS.maxParametersBytes) {
    return invalid('parameters', `parameters are ${size.value} bytes serialized; the limit is ${COMMAND_LIMITS.maxParametersBytes}`);
  }
  return ok(envelope);
}

/** A command received over REST, validated. */
export interface ParsedCommand {
  readonly envelope: CommandEnvelope;
  /** `execute` for synapse.action.execute and aionix.openact.action.execute; `cancel` for synapse.run.cancel. */
  readonly verb: 'execute' | 'cancel';
  /** The resolved `target`. */
  readonly target: ActionTarget;
  /** `parameters.input`, or `null` when absent. */
  readonly input: unknown;
}

/**
 * Validates a CommandEnvelope received over HTTP. Order: object; `schemaVersion`
 * present and a string (`invalid_envelope`), then 1.x.y (`unsupported_schema_version`);
 * then the fields in schema order; then `target` is a service action TRN of `tenant`;
 * then the serialized size of `parameters` (≤ 256 KiB).
 */
export function parseCommandEnvelope(body: unknown): Result<ParsedCommand, CommandErrorCode> {
  if (!isPlainObject(body)) return invalid('', 'a command envelope must be a JSON object');
  const nul = findUnstorableString(body);
  if (nul !== null) return invalid(nul, `${nul}: ${UNSTORABLE_MESSAGE}`);
  const version = body.schemaVersion;
  if (typeof version !== 'string') {
    return invalid('schemaVersion', version === undefined ? 'schemaVersion: is required' : 'schemaVersion: must be a string');
  }
  if (!isSupportedSchemaVersion(version)) {
    return err(
      'unsupported_schema_version',
      'schemaVersion',
      `unsupported schemaVersion ${JSON.stringify(version.slice(0, 32))}; supported: ${COMMAND_SCHEMA_VERSION} (any 1.x.y is accepted)`,
    );
  }
  const parsed = CommandEnvelopeSchema.safeParse(body);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return invalid(issue.path, issue.message);
  }
  const envelope = parsed.data;
  const target = parseActionTarget(envelope.target);
  if (!target.ok) {
    return invalid('target', `target: ${target.error.message} (expected trn:synapse:{tenant}:action/{serviceId}/{actionId})`);
  }
  if (target.value.tenant !== envelope.tenant) {
    return invalid('target', `target: tenant ${JSON.stringify(target.value.tenant)} differs from the envelope's tenant`);
  }
  const size = jsonByteSize(envelope.parameters);
  if (!size.ok) return invalid('parameters', 'parameters: not representable as JSON');
  if (size.value > COMMAND_LIMITS.maxParametersBytes) {
    return invalid('parameters', `parameters: ${size.value} bytes serialized; the limit is ${COMMAND_LIMITS.maxParametersBytes}`);
  }
  const input = envelope.parameters.input;
  return ok({
    envelope,
    verb: envelope.command === 'synapse.run.cancel' ? 'cancel' : 'execute',
    target: target.value,
    input: input === undefined ? null : input,
  });
}
