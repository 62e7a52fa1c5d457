// Tables of the gateway. Migrations in drizzle/ are generated from this file
// (`npm run db:generate`) and applied at start-up by db/migrate.ts.
import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const actionDefinitions = pgTable(
  'action_definitions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenant: text('tenant').notNull().default('default'),
    title: text('title').notNull(),
    kind: text('kind', { enum: ['prompt', 'command'] }).notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('action_definitions_tenant_id_idx').on(t.tenant, t.id.desc()),
    index('action_definitions_updated_at_idx').on(t.updatedAt),
    index('action_definitions_kind_idx').on(t.tenant, t.kind),
    check('action_definitions_kind_check', sql`${t.kind} in ('prompt', 'command')`),
    // postgres.js can silently store a JSON string; the column must always hold an object.
    check('action_definitions_spec_object_check', sql`jsonb_typeof(${t.spec}) = 'object'`),
  ],
);

export type ActionDefinitionRow = typeof actionDefinitions.$inferSelect;

/** The service catalogue: the latest discovery snapshot of every Axon. */
export const services = pgTable(
  'services',
  {
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull().default('default'),
    name: text('name').notNull(),
    status: text('status', { enum: ['online', 'warning', 'error', 'offline'] }).notNull(),
    /** Seconds; the service is offline once `now - last_seen > ttl`. */
    ttl: integer('ttl').notNull(),
    lastSeen: timestamp('last_seen', { withTimezone: true, mode: 'date' }).notNull(),
    /** When the sweeper or the Axon itself marked it offline (null while alive). */
    offlineSince: timestamp('offline_since', { withTimezone: true, mode: 'date' }),
    shape: text('shape', { enum: ['v1', 'mvp'] }).notNull(),
    snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull(),
    actions: jsonb('actions').$type<Array<{ id: string; label: string; style: string | null; confirm: boolean | string | null }>>().notNull(),
    runners: jsonb('runners').$type<string[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('services_tenant_status_idx').on(t.tenant, t.status)],
);

/** Runs: one triggered action each, with its state machine and timestamps. */
export const runs = pgTable(
  'runs',
  {
    /** UUIDv7, so ids sort by creation time. */
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull(),
    serviceId: text('service_id').notNull(),
    actionId: text('action_id').notNull(),
    definitionId: bigint('definition_id', { mode: 'number' }),
    definitionVersion: integer('definition_version'),
    state: text('state').notNull(),
    reason: text('reason'),
    cancelRequested: boolean('cancel_requested').notNull().default(false),
    cancelRequestedAt: timestamp('cancel_requested_at', { withTimezone: true, mode: 'date' }),
    input: jsonb('input').$type<unknown>(),
    output: jsonb('output').$type<unknown>(),
    error: jsonb('error').$type<unknown>(),
    /** The command envelope's id (UUIDv7) and correlation id. */
    commandId: text('command_id').notNull(),
    traceId: text('trace_id').notNull(),
    idempotencyKey: text('idempotency_key'),
    /** How the run was started: graphql, rest (seed 000) or envelope (seed 002). */
    origin: text('origin').notNull(),
    /** For envelope runs: the caller's command id, target TRN and trace, for the Stepflow events. */
    callerCommandId: text('caller_command_id'),
    callerTarget: text('caller_target'),
    heartbeatTimeoutS: integer('heartbeat_timeout_s').notNull(),
    statusTtlS: integer('status_ttl_s').notNull(),
    deadline: timestamp('deadline', { withTimezone: true, mode: 'date' }),
    lastEventAt: timestamp('last_event_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** Next per-run event sequence number. */
    nextSeq: integer('next_seq').notNull().default(1),
    outputBytes: bigint('output_bytes', { mode: 'number' }).notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    dispatchedAt: timestamp('dispatched_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('runs_tenant_id_idx').on(t.tenant, t.id.desc()),
    index('runs_tenant_service_idx').on(t.tenant, t.serviceId, t.id.desc()),
    uniqueIndex('runs_command_id_idx').on(t.commandId),
    // The sweeper's once-a-second look for runs to end reads unfinished runs only, not the
    // whole history. On `id` and `finished_at`, set once when a run ends: an event's update
    // (last_event_at, next_seq, a non-terminal state) stays a heap-only (HOT) update.
    index('runs_unfinished_idx')
      .on(t.id)
      .where(sql`${t.finishedAt} is null`),
  ],
);

/** Idempotency keys, per tenant, kept 24 hours. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenant: text('tenant').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of the canonical request, to tell a replay from a conflict. */
    requestHash: text('request_hash').notNull(),
    runId: text('run_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.key] }), index('idempotency_keys_created_at_idx').on(t.createdAt)],
);

/** Every event of every run, in order; deduplicated by (source, event_id). */
export const runEvents = pgTable(
  'run_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: text('run_id').notNull(),
    seq: integer('seq').notNull(),
    tenant: text('tenant').notNull(),
    source: text('source').notNull(),
    eventId: text('event_id').notNull(),
    type: text('type').notNull(),
    time: timestamp('time', { withTimezone: true, mode: 'date' }).notNull(),
    /** The run's state after this event. */
    state: text('state').notNull(),
    reason: text('reason'),
    data: jsonb('data').$type<unknown>(),
    envelope: jsonb('envelope').$type<Record<string, unknown>>().notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('run_events_run_seq_idx').on(t.runId, t.seq), uniqueIndex('run_events_source_id_idx').on(t.source, t.eventId)],
);

/** Transactional outbox: MQTT commands (and later webhook deliveries) written with the run. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    runId: text('run_id'),
    topic: text('topic').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** A relay's lease on the row while it publishes; another relay may take it once expired. */
    claimedBy: text('claimed_by'),
    claimedUntil: timestamp('claimed_until', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('outbox_pending_idx').on(t.id).where(sql`${t.sentAt} is null`)],
);

/** Action button configuration (the condition DSL), versioned per tenant. */
export const actionConfigs = pgTable(
  'action_configs',
  {
    tenant: text('tenant').notNull(),
    version: integer('version').notNull(),
    source: text('source').notNull(),
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.version] })],
);

/** Webhook endpoints (GraphQL-managed), per tenant: every event of a matching type is POSTed to `url`. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    /** UUIDv7. */
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull(),
    url: text('url').notNull(),
    /** Short event types (`succeeded`, …) or `*` for every type. */
    eventTypes: jsonb('event_types').$type<string[]>().notNull(),
    /** HMAC-SHA256 key of the signature header; never shown again after creation. */
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_tenant_idx').on(t.tenant, t.id)],
);

/**
 * The webhook outbox: one row per (event, destination), written in the
 * transaction that stores the event. Workers lease due rows (FOR UPDATE SKIP
 * LOCKED, then a claim with an expiry); `attempts` is incremented by the claim,
 * so an attempt number is never sent twice.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    /** UUIDv7: the stable delivery id sent on every attempt. */
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull(),
    /** `webhook` (a row of webhook_endpoints) or `stepflow` (STEPFLOW_EVENTS_URL). */
    destination: text('destination', { enum: ['webhook', 'stepflow'] }).notNull(),
    webhookId: text('webhook_id').references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    runId: text('run_id').notNull(),
    /** The stored event (run_events.id); webhook rows send its envelope as stored. */
    runEventId: bigint('run_event_id', { mode: 'number' }).notNull(),
    eventSeq: integer('event_seq').notNull(),
    /** The full type of the envelope that is sent. */
    eventType: text('event_type').notNull(),
    /** Stepflow rows: the mapped EventEnvelope; null for webhook rows. */
    payload: jsonb('payload').$type<Record<string, unknown>>(),
    status: text('status', { enum: ['pending', 'delivered', 'failed', 'dead_lettered'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true, mode: 'date' }),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    claimedBy: text('claimed_by'),
    claimedUntil: timestamp('claimed_until', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_tenant_idx').on(t.tenant, t.id.desc()),
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.id.desc()),
    // Stepflow learns a run's outcome once.
    uniqueIndex('webhook_deliveries_stepflow_run_idx').on(t.runId).where(sql`${t.destination} = 'stepflow'`),
    check('webhook_deliveries_status_check', sql`${t.status} in ('pending', 'delivered', 'failed', 'dead_lettered')`),
    check('webhook_deliveries_destination_check', sql`${t.destination} in ('webhook', 'stepflow')`),
  ],
);

/**
 * API keys. The secret is shown once at creation; only a salted SHA-256 of it
 * is stored (the secret has 256 bits of entropy, so a slow hash adds nothing).
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    /** UUIDv7; also the public part of the key (`sgk_{id}_{secret}`). */
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull(),
    name: text('name').notNull(),
    scopes: jsonb('scopes').$type<string[]>().notNull(),
    salt: text('salt').notNull(),
    hash: text('hash').notNull(),
    /** The key that created this one; null for the bootstrap key and the CLI. */
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('api_keys_tenant_idx').on(t.tenant, t.id)],
);

/** Per-Axon MQTT credentials: the service id is the MQTT client id and user name. */
export const agentCredentials = pgTable(
  'agent_credentials',
  {
    /** UUIDv7; also the public part of the secret (`sga_{id}_{secret}`). */
    id: text('id').primaryKey(),
    tenant: text('tenant').notNull(),
    serviceId: text('service_id').notNull(),
    salt: text('salt').notNull(),
    hash: text('hash').notNull(),
    createdBy: text('created_by'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('agent_credentials_service_idx').on(t.serviceId)],
);

/** Who did what, when: triggers, cancels, registry, configuration and key changes. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenant: text('tenant').notNull(),
    /** The API key id, or `open` (no keys configured) or `system`. */
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    /** What it was done to: a run id, definition id, key id, … */
    target: text('target'),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('audit_log_tenant_idx').on(t.tenant, t.id.desc())],
);
