// The service catalogue: Axons announce themselves with discovery snapshots;
// each snapshot replaces the previous one. A service whose last snapshot is
// older than its ttl is offline until it announces again.
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { services } from '../db/schema.js';
import type { Logger } from '../observability/logger.js';
import { DISCOVERY_LIMITS, parseDiscoveryBytes, type NormalisedService, type ServiceStatus } from '../protocol/index.js';

export type ServiceRow = typeof services.$inferSelect;

export interface CatalogueOptions {
  db: Database;
  logger: Logger;
  /** Tenant of services announced without credentials. */
  tenant: string;
  /** The tenant of a service's Axon credential, when it has one (auth/agents.ts). */
  tenantOf?: (serviceId: string) => Promise<string | null>;
  /** When set, snapshots must carry this `auth_token` (Axons written for the MVP). */
  legacyAxonToken?: string | undefined;
  /** Counts a rejected snapshot by reason. */
  onRejected?: (code: string) => void;
  /** A service came online, changed, or went offline. */
  onChanged?: (service: ServiceRow) => void;
}

export type IngestOutcome = { ok: true; service: ServiceRow } | { ok: false; code: string; path: string; message: string };

export type Catalogue = ReturnType<typeof createCatalogue>;

/**
 * How long a trigger may rely on a service row this process read or wrote:
 * triggers in a burst check the same service without reading it each time.
 * This process's own snapshots and offline sweeps update the rows at once, and
 * other gateways' changes arrive through the fan-out (`remember`); this bounds
 * how late a change that the fan-out did not bring is seen.
 */
export const TRIGGER_CHECK_MAX_AGE_MS = 500;
const MAX_REMEMBERED = 10_000;

export function createCatalogue(options: CatalogueOptions) {
  const { db, logger } = options;
  const t = services;
  const byId = db
    .select()
    .from(t)
    .where(and(eq(t.tenant, sql.placeholder('tenant')), eq(t.id, sql.placeholder('id'))))
    .prepare('services_get');

  async function store(normalised: NormalisedService, tenant: string): Promise<ServiceRow> {
    const offline = normalised.status === 'offline';
    const values = {
      id: normalised.id,
      tenant,
      name: normalised.name,
      status: normalised.status,
      ttl: normalised.ttl,
      lastSeen: sql`now()`,
      offlineSince: offline ? sql`now()` : null,
      shape: normalised.shape,
      snapshot: normalised.snapshot,
      actions: normalised.actions.map((a) => ({ id: a.id, label: a.label, style: a.style, confirm: a.confirm })),
      runners: [...normalised.runners],
      updatedAt: sql`now()`,
    };
    const [row] = await db
      .insert(t)
      .values(values as unknown as typeof t.$inferInsert)
      .onConflictDoUpdate({ target: t.id, set: values as unknown as Partial<typeof t.$inferInsert> })
      .returning();
    return row!;
  }

  // A service's snapshots are applied one after the other, in the order they
  // arrive: the broker delivers them in order, but handlers run concurrently
  // (acknowledged once stored), and an `online` stored after the `offline` that
  // followed it would leave a stopped Axon online.
  const applying = new Map<string, Promise<unknown>>();
  function inArrivalOrder<T>(serviceId: string, task: () => Promise<T>): Promise<T> {
    const result = (applying.get(serviceId) ?? Promise.resolve()).then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    applying.set(serviceId, settled);
    void settled.then(() => {
      if (applying.get(serviceId) === settled) applying.delete(serviceId);
    });
    return result;
  }

  /**
   * Validates and stores one snapshot. Invalid snapshots change nothing and are
   * reported as values; only an unreachable database rejects.
   */
  function ingest(topicServiceId: string, payload: Uint8Array, maxBytes: number = DISCOVERY_LIMITS.maxBytesMqtt): Promise<IngestOutcome> {
    return inArrivalOrder(topicServiceId, () => ingestNow(topicServiceId, payload, maxBytes));
  }

  async function ingestNow(topicServiceId: string, payload: Uint8Array, maxBytes: number): Promise<IngestOutcome> {
    const parsed = parseDiscoveryBytes(payload, {
      topicServiceId,
      maxBytes,
      ...(options.legacyAxonToken ? { legacyAxonToken: options.legacyAxonToken } : {}),
    });
    if (!parsed.ok) {
      options.onRejected?.(parsed.error.code);
      logger.warn({ serviceId: topicServiceId.slice(0, 128), code: parsed.error.code, path: parsed.error.path, reason: parsed.error.message }, 'discovery snapshot rejected');
      return { ok: false, ...parsed.error };
    }
    const tenant = (await options.tenantOf?.(parsed.value.id)) ?? options.tenant;
    const before = await byId.execute({ tenant, id: parsed.value.id });
    const row = await store(parsed.value, tenant);
    remember(row);
    const previous = before[0];
    if (!previous || previous.status !== row.status || JSON.stringify(previous.snapshot) !== JSON.stringify(row.snapshot)) {
      options.onChanged?.(row);
    }
    return { ok: true, service: row };
  }

  async function get(tenant: string, id: string): Promise<ServiceRow | null> {
    const [row] = await byId.execute({ tenant, id });
    if (row) remember(row);
    return row ?? null;
  }

  // By service id (a service belongs to one tenant at a time): a row that
  // moved to another tenant is never served to the old one.
  const recent = new Map<string, { row: ServiceRow; until: number }>();
  function remember(row: ServiceRow): void {
    // A fan-out message may arrive after a later change of the same row.
    const known = recent.get(row.id)?.row;
    if (known && known.updatedAt.getTime() > new Date(row.updatedAt).getTime()) return;
    recent.delete(row.id);
    recent.set(row.id, { row, until: Date.now() + TRIGGER_CHECK_MAX_AGE_MS });
    // Oldest first (insertion order): a burst over many services stays bounded.
    if (recent.size > MAX_REMEMBERED) recent.delete(recent.keys().next().value!);
  }

  /** The service as a trigger checks it: a row at most TRIGGER_CHECK_MAX_AGE_MS old, else read now. */
  async function forTrigger(tenant: string, id: string): Promise<ServiceRow | null> {
    const hit = recent.get(id);
    if (hit && hit.until > Date.now() && hit.row.tenant === tenant) return hit.row;
    return get(tenant, id);
  }

  async function list(tenant: string, status?: ServiceStatus | null): Promise<ServiceRow[]> {
    const where = status ? and(eq(t.tenant, tenant), eq(t.status, status)) : eq(t.tenant, tenant);
    return db.select().from(t).where(where).orderBy(t.id).limit(1000);
  }

  /** Marks every service whose ttl ran out offline; returns those it changed. */
  async function sweepOffline(): Promise<ServiceRow[]> {
    const changed = await db
      .update(t)
      .set({ status: 'offline', offlineSince: sql`now()`, updatedAt: sql`now()` })
      .where(and(sql`${t.status} <> 'offline'`, sql`${t.lastSeen} < now() - make_interval(secs => ${t.ttl})`))
      .returning();
    for (const row of changed) {
      remember(row);
      logger.info({ serviceId: row.id, lastSeen: row.lastSeen.toISOString(), ttl: row.ttl }, 'service offline: no snapshot within its ttl');
      options.onChanged?.(row);
    }
    return changed;
  }

  return {
    ingest,
    get,
    forTrigger,
    /** A service row another gateway changed (through the fan-out). */
    remember,
    list,
    sweepOffline,
  };
}
