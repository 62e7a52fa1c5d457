// Axon credentials: one per service (several while rotating), created with
// `createAgentCredential(serviceId)`. The service id is the MQTT client id and
// user name; the secret (`sga_…`) is the MQTT password. A credential binds its
// service to a tenant: the catalogue files the service's snapshots under it.
import { pbkdf2Sync } from 'node:crypto';
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { agentCredentials, services } from '../db/schema.js';
import { fail, ok, type Result } from '../errors.js';
import { formatSecret, newSecret, parseSecret, secretMatches } from './secrets.js';

const CACHE_MS = 2_000;
const CACHE_MAX = 10_000;
export const SERVICE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export interface AgentCredentialInfo {
  id: string;
  tenant: string;
  serviceId: string;
  createdBy: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface AgentIdentity {
  credentialId: string;
  serviceId: string;
  tenant: string;
}

type Row = typeof agentCredentials.$inferSelect;
const info = (row: Row): AgentCredentialInfo => ({
  id: row.id,
  tenant: row.tenant,
  serviceId: row.serviceId,
  createdBy: row.createdBy,
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
});

/**
 * A Mosquitto password-file line for the credential (PBKDF2-SHA512, 101
 * iterations, the `$7$` format of mosquitto_passwd), so an external broker can
 * check the same secret. Only computable at creation: the gateway keeps no
 * copy of the secret.
 */
export function mosquittoPasswordLine(username: string, password: string, salt: Buffer): string {
  const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
  return `${username}:$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export interface AgentStoreOptions {
  db: Database;
  newId: () => string;
  random: (n: number) => Buffer;
  now: () => number;
}

export function createAgentStore(options: AgentStoreOptions) {
  const { db, now } = options;
  const verified = new Map<string, { until: number; identity: AgentIdentity | null }>();

  /** The tenant a service belongs to: its active credentials', else its catalogue entry's. */
  async function tenantOf(serviceId: string): Promise<string | null> {
    const [credential] = await db
      .select({ tenant: agentCredentials.tenant })
      .from(agentCredentials)
      .where(and(eq(agentCredentials.serviceId, serviceId), isNull(agentCredentials.revokedAt)))
      .limit(1);
    return credential?.tenant ?? null;
  }

  async function create(serviceId: string, tenant: string, createdBy: string | null) {
    if (!SERVICE_ID_RE.test(serviceId)) return fail('invalid_service_id', 'serviceId', 'serviceId must be 1..128 letters, digits, _ and -');
    const owner = await tenantOf(serviceId);
    const [known] = await db.select({ tenant: services.tenant }).from(services).where(eq(services.id, serviceId));
    // Service ids are global (they are MQTT topics): one tenant owns each.
    if ((owner !== null && owner !== tenant) || (owner === null && known && known.tenant !== tenant)) {
      return fail('service_id_taken', 'serviceId', 'this service id is registered to another tenant; choose another id');
    }
    const id = options.newId();
    const made = newSecret(options.random);
    const [row] = await db.insert(agentCredentials).values({ id, tenant, serviceId, salt: made.salt, hash: made.hash, createdBy }).returning();
    const secret = formatSecret('sga', id, made.secret);
    return ok({ credential: info(row!), secret, mosquittoPasswordLine: mosquittoPasswordLine(serviceId, secret, options.random(12)) });
  }

  async function lookup(serviceId: string, password: string): Promise<AgentIdentity | null> {
    const parsed = parseSecret(password);
    if (!parsed || parsed.kind !== 'sga') return null;
    const [row] = await db.select().from(agentCredentials).where(eq(agentCredentials.id, parsed.id));
    if (!row || row.revokedAt || row.serviceId !== serviceId || !secretMatches(parsed.secret, row)) return null;
    return { credentialId: row.id, serviceId: row.serviceId, tenant: row.tenant };
  }

  /** The Axon's identity when `password` is an active credential of `serviceId`; cached briefly. */
  async function verify(serviceId: string, password: string): Promise<AgentIdentity | null> {
    const key = `${serviceId}\0${password}`;
    const t = now();
    const hit = verified.get(key);
    if (hit && hit.until > t) return hit.identity;
    const identity = await lookup(serviceId, password);
    if (verified.size >= CACHE_MAX) verified.clear();
    verified.set(key, { until: t + CACHE_MS, identity });
    return identity;
  }

  /** The Axon presenting `token` (an `sga_…` secret), whatever its service; null when not valid. */
  async function identify(token: string): Promise<AgentIdentity | null> {
    const parsed = parseSecret(token);
    if (!parsed || parsed.kind !== 'sga') return null;
    const [row] = await db.select({ serviceId: agentCredentials.serviceId }).from(agentCredentials).where(eq(agentCredentials.id, parsed.id));
    return row ? verify(row.serviceId, token) : null;
  }

  async function revoke(id: string, tenant: string): Promise<Result<AgentCredentialInfo>> {
    const [row] = await db
      .update(agentCredentials)
      .set({ revokedAt: new Date(now()) })
      .where(and(eq(agentCredentials.id, id), eq(agentCredentials.tenant, tenant), isNull(agentCredentials.revokedAt)))
      .returning();
    if (!row) return fail('not_found', 'id', 'agent credential not found');
    for (const [key, entry] of verified) if (entry.identity?.credentialId === id) verified.delete(key);
    return ok(info(row));
  }

  async function list(tenant: string, serviceId: string | null): Promise<AgentCredentialInfo[]> {
    const where = serviceId === null ? eq(agentCredentials.tenant, tenant) : and(eq(agentCredentials.tenant, tenant), eq(agentCredentials.serviceId, serviceId));
    const rows = await db.select().from(agentCredentials).where(where).orderBy(desc(agentCredentials.id)).limit(1_000);
    return rows.map(info);
  }

  /** The ids among `ids` that are revoked or gone (the MQTT broker drops their live connections). */
  async function revokedAmong(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await db.select({ id: agentCredentials.id, revokedAt: agentCredentials.revokedAt }).from(agentCredentials).where(inArray(agentCredentials.id, [...ids]));
    const active = new Set(rows.filter((r) => r.revokedAt === null).map((r) => r.id));
    return ids.filter((id) => !active.has(id));
  }

  return { create, verify, identify, revoke, list, tenantOf, revokedAmong };
}

export type AgentStore = ReturnType<typeof createAgentStore>;
