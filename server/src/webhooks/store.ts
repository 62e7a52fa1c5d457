// Webhook endpoints and deliveries in the database: the GraphQL-facing
// operations, and the hook that enqueues deliveries inside the transaction that
// stores a run event (so a delivery exists exactly when its event does).
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { SelectedFieldsOrdered } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.js';
import { fail, notFound, ok, type Result } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { EVENT_SHORT_TYPES, EVENT_TYPE_PREFIX, shortEventType } from '../protocol/index.js';
import type { StoredEventHook } from '../runs/events.js';
import { generateSecret } from './signature.js';
import { isStepflowOutcome, stepflowEnvelope } from './stepflow.js';
import { blockedHost } from './address-guard.js';
import { validateWebhookInput, WEBHOOK_LIMITS } from './validation.js';

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
/** An endpoint as listed: never its secret. */
export type WebhookEndpoint = Omit<WebhookEndpointRow, 'secret'>;
export type DeliveryStatus = WebhookDeliveryRow['status'];
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'dead_lettered'] as const satisfies readonly DeliveryStatus[];

/** Advisory lock class of "endpoints of one tenant" (two-key form, apart from the migration lock). */
const ENDPOINTS_LOCK = 0x57484b53; // "WHKS"

export interface WebhookStoreOptions {
  db: Database;
  logger: Logger;
  newId: () => string;
  /** Where envelope-run outcomes go; unset means none are enqueued. */
  stepflowUrl: string | undefined;
  /** Called (after the transaction) when the hook enqueued deliveries; see `afterCommit`. */
  onEnqueued?: () => void;
  /** SYNAPSE_WEBHOOK_ALLOW_PRIVATE: endpoints may name loopback and private addresses. */
  allowPrivate: boolean;
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;

const endpointColumns = {
  id: webhookEndpoints.id,
  tenant: webhookEndpoints.tenant,
  url: webhookEndpoints.url,
  eventTypes: webhookEndpoints.eventTypes,
  createdAt: webhookEndpoints.createdAt,
};

export function createWebhookStore(options: WebhookStoreOptions) {
  const { db, logger } = options;
  let enqueued = false;

  /** Runs inside the transaction that stores a run event; enqueues one delivery per matching endpoint, and Stepflow's. */
  // One lookup per transaction and tenant: a batch of events stored together
  // reads the tenant's endpoints once. The statement is built once and runs as a
  // named prepared statement: one round trip that can travel pipelined with the
  // transaction's other statements (an unprepared one is described first, a
  // second round trip that nothing may follow).
  const endpointsOfTenant = {
    query: db
      .select({ id: webhookEndpoints.id, eventTypes: webhookEndpoints.eventTypes })
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.tenant, sql.placeholder('tenant')))
      // The lock the foreign key takes anyway, taken first: an endpoint deleted
      // meanwhile is skipped instead of failing the transaction that stores the event.
      .for('key share')
      .toSQL(),
    fields: [
      { path: ['id'], field: webhookEndpoints.id },
      { path: ['eventTypes'], field: webhookEndpoints.eventTypes },
    ] as SelectedFieldsOrdered,
  };
  type Endpoints = Array<{ id: string; eventTypes: string[] }>;
  const endpointsByTx = new WeakMap<object, Map<string, Promise<Endpoints>>>();
  function tenantEndpoints(tx: Parameters<StoredEventHook>[0], tenant: string) {
    let perTenant = endpointsByTx.get(tx);
    if (!perTenant) endpointsByTx.set(tx, (perTenant = new Map()));
    let found = perTenant.get(tenant);
    if (!found) {
      found = tx._.session
        .prepareQuery<{ execute: Endpoints; all: unknown; values: unknown }>(endpointsOfTenant.query, endpointsOfTenant.fields, 'webhook_endpoints_of_tenant', true)
        .execute({ tenant });
      // A prefetch whose transaction fails before the hook runs is never awaited.
      found.catch(() => {});
      perTenant.set(tenant, found);
    }
    return found;
  }

  const onStoredInTx: StoredEventHook = async (tx, event, run) => {
    const short = shortEventType(event.type);
    if (!short) return;
    const endpoints = (await tenantEndpoints(tx, run.tenant)).filter((e) => e.eventTypes.includes(short) || e.eventTypes.includes('*'));
    if (endpoints.length > 0) {
      await tx.insert(webhookDeliveries).values(
        endpoints.map((endpoint) => ({
          id: options.newId(),
          tenant: run.tenant,
          destination: 'webhook' as const,
          webhookId: endpoint.id,
          runId: run.id,
          runEventId: event.id,
          eventSeq: event.seq,
          eventType: event.type,
        })),
      );
      enqueued = true;
    }
    if (options.stepflowUrl && isStepflowOutcome(run, event)) {
      const id = options.newId();
      const envelope = stepflowEnvelope(run, event, id);
      if (!envelope.ok) {
        logger.error({ runId: run.id, err: envelope.message }, 'could not build the Stepflow event');
        return;
      }
      // One outcome per run (unique index): a late terminal event adds nothing.
      const rows = await tx
        .insert(webhookDeliveries)
        .values({
          id,
          tenant: run.tenant,
          destination: 'stepflow',
          webhookId: null,
          runId: run.id,
          runEventId: event.id,
          eventSeq: event.seq,
          eventType: envelope.value.type,
          payload: envelope.value as unknown as Record<string, unknown>,
        })
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.id });
      if (rows.length > 0) enqueued = true;
    }
  };
  onStoredInTx.prefetch = (tx, tenant) => {
    void tenantEndpoints(tx, tenant);
  };
  // The same deliveries as SQL, for single-statement writes: one row per stored
  // event of a known type and endpoint of its tenant taking the event's short
  // type (or `*`), locked like the look-up above; the delivery id is a UUIDv7
  // made by Postgres (48-bit Unix milliseconds, version 7, random bits, RFC 4122
  // variant). It covers every event except a Stepflow outcome, whose envelope is
  // built here (the transaction path).
  onStoredInTx.inStatement = {
    insert: sql`insert into ${webhookDeliveries} (${sql.identifier(webhookDeliveries.id.name)}, ${sql.identifier(webhookDeliveries.tenant.name)}, ${sql.identifier(webhookDeliveries.destination.name)}, ${sql.identifier(webhookDeliveries.webhookId.name)}, ${sql.identifier(webhookDeliveries.runId.name)}, ${sql.identifier(webhookDeliveries.runEventId.name)}, ${sql.identifier(webhookDeliveries.eventSeq.name)}, ${sql.identifier(webhookDeliveries.eventType.name)})
      select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid::text,
        ev.tenant, 'webhook', e.id, ev.run_id, ev.id, ev.seq, ev.type
      from ${webhookEndpoints} e join ev on e.tenant = ev.tenant
      where ev.type in (${sql.join(
        EVENT_SHORT_TYPES.map((short) => sql`${EVENT_TYPE_PREFIX + short}`),
        sql`, `,
      )}) and (e.event_types @> jsonb_build_array(substr(ev.type, ${EVENT_TYPE_PREFIX.length + 1}::int)) or e.event_types @> '["*"]'::jsonb)
      for key share of e
      returning 1`,
    covers: (run, event) => !options.stepflowUrl || !isStepflowOutcome(run, event),
    inserted(count) {
      if (count > 0) enqueued = true;
    },
  };

  /**
   * Call after a transaction that may have run the hook committed: wakes the
   * worker when deliveries were enqueued. (A delivery whose transaction commits
   * after this call is picked up by the periodic pass.)
   */
  function afterCommit(): void {
    if (!enqueued) return;
    enqueued = false;
    options.onEnqueued?.();
  }

  async function create(tenant: string, raw: unknown): Promise<Result<{ webhook: WebhookEndpoint; secret: string }>> {
    const input = validateWebhookInput(raw);
    if (!input.ok) return input;
    const blocked = options.allowPrivate ? null : blockedHost(input.value.url);
    if (blocked) return fail('invalid_url', 'url', `${blocked}: webhooks may only reach public addresses (the operator can allow private ones with SYNAPSE_WEBHOOK_ALLOW_PRIVATE=true)`);
    const secret = input.value.secret ?? generateSecret();
    return db.transaction(async (tx) => {
      // Serialises creates per tenant, so the limit holds with several gateways.
      await tx.execute(sql`select pg_advisory_xact_lock(${ENDPOINTS_LOCK}::int, hashtext(${tenant}))`);
      const [counted] = await tx.select({ n: sql<number>`count(*)::int` }).from(webhookEndpoints).where(eq(webhookEndpoints.tenant, tenant));
      if ((counted?.n ?? 0) >= WEBHOOK_LIMITS.maxEndpointsPerTenant) {
        return fail('too_many_webhooks', null, `a tenant has at most ${WEBHOOK_LIMITS.maxEndpointsPerTenant} webhooks; delete one first`);
      }
      const [row] = await tx
        .insert(webhookEndpoints)
        .values({ id: options.newId(), tenant, url: input.value.url, eventTypes: input.value.eventTypes, secret })
        .returning(endpointColumns);
      return ok({ webhook: row!, secret });
    });
  }

  async function list(tenant: string): Promise<WebhookEndpoint[]> {
    return db.select(endpointColumns).from(webhookEndpoints).where(eq(webhookEndpoints.tenant, tenant)).orderBy(webhookEndpoints.id);
  }

  /** Deletes an endpoint and (cascade) its deliveries. */
  async function remove(tenant: string, id: string): Promise<Result<{ id: string }>> {
    const rows = await db
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.tenant, tenant), eq(webhookEndpoints.id, id)))
      .returning({ id: webhookEndpoints.id });
    return rows[0] ? ok(rows[0]) : notFound('webhook');
  }

  async function deliveries(
    tenant: string,
    filter: { webhookId?: string | null; status?: DeliveryStatus | null; first: number; before?: string | null },
  ): Promise<WebhookDeliveryRow[]> {
    const conditions = [eq(webhookDeliveries.tenant, tenant)];
    if (filter.webhookId) conditions.push(eq(webhookDeliveries.webhookId, filter.webhookId));
    if (filter.status) conditions.push(eq(webhookDeliveries.status, filter.status));
    if (filter.before) conditions.push(lt(webhookDeliveries.id, filter.before));
    return db
      .select()
      .from(webhookDeliveries)
      .where(and(...conditions))
      .orderBy(desc(webhookDeliveries.id))
      .limit(filter.first);
  }

  async function delivery(tenant: string, id: string): Promise<WebhookDeliveryRow | null> {
    const [row] = await db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.tenant, tenant), eq(webhookDeliveries.id, id)));
    return row ?? null;
  }

  /** Replays a dead-lettered or failed delivery: attempts start again at 1, due now. Same delivery id. */
  async function redeliver(tenant: string, id: string): Promise<Result<WebhookDeliveryRow>> {
    const [row] = await db
      .update(webhookDeliveries)
      .set({
        status: 'pending',
        attempts: 0,
        nextAttemptAt: sql`now()`,
        claimedBy: null,
        claimedUntil: null,
        deliveredAt: null,
        updatedAt: sql`now()`,
      })
      .where(and(eq(webhookDeliveries.tenant, tenant), eq(webhookDeliveries.id, id), inArray(webhookDeliveries.status, ['dead_lettered', 'failed'])))
      .returning();
    if (row) {
      options.onEnqueued?.();
      return ok(row);
    }
    const existing = await delivery(tenant, id);
    if (!existing) return notFound('webhook delivery');
    return fail('not_redeliverable', 'id', `only dead-lettered or failed deliveries can be redelivered; this one is ${existing.status}`);
  }

  return { onStoredInTx, afterCommit, create, list, remove, deliveries, delivery, redeliver };
}
