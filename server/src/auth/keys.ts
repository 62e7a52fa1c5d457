// API keys: creation (secret shown once, salted hash stored), revocation,
// expiry and authentication with a short cache. Revocations by other gateway
// processes are picked up by the cache expiry (KEY_CACHE_MS) for requests and
// by AccessControl's watch for open subscriptions.
import { createHash } from 'node:crypto';
import { and, desc, eq, gt, inArray, isNotNull, isNull, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { apiKeys } from '../db/schema.js';
import { type DomainError, fail, ok, type Result } from '../errors.js';
import type { Principal } from './principal.js';
import { parseScopes, type Scope, SCOPES } from './scopes.js';
import { formatSecret, hashSecret, newSecret, parseSecret, secretMatches } from './secrets.js';

export const KEY_CACHE_MS = 2_000;
const KEY_CACHE_MAX = 10_000;
export const MAX_KEY_NAME = 200;
export const TENANT_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

export interface ApiKeyInfo {
  id: string;
  tenant: string;
  name: string;
  scopes: Scope[];
  createdBy: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  name: string;
  tenant: string;
  scopes: readonly string[];
  expiresAt?: Date | null;
  createdBy?: string | null;
}

export type AuthFailureCode = 'unauthenticated' | 'key_expired' | 'key_revoked';
export interface AuthFailure extends DomainError {
  code: AuthFailureCode;
}

const authFailure = (code: AuthFailureCode, message: string): { ok: false; error: AuthFailure } => ({
  ok: false,
  error: { code, field: null, message },
});

type KeyRow = typeof apiKeys.$inferSelect;

const info = (row: KeyRow): ApiKeyInfo => ({
  id: row.id,
  tenant: row.tenant,
  name: row.name,
  scopes: parseScopes(row.scopes).scopes,
  createdBy: row.createdBy,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt,
});

/** The bootstrap key's row id: derived from its secret, so a new secret is a new key. */
export function bootstrapKeyId(secret: string): string {
  const hex = createHash('sha256').update('synapse-bootstrap\0').update(secret).digest('hex').slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface KeyStoreOptions {
  db: Database;
  newId: () => string;
  random: (n: number) => Buffer;
  now: () => number;
  /** SYNAPSE_BOOTSTRAP_ADMIN_KEY: accepted as written (any text of 32+ characters). */
  bootstrapSecret?: string | undefined;
}

export function createKeyStore(options: KeyStoreOptions) {
  const { db, now } = options;
  const cache = new Map<string, { until: number; result: Result<Principal, AuthFailure> }>();
  const bootstrapId = options.bootstrapSecret ? bootstrapKeyId(options.bootstrapSecret) : null;

  function validate(input: NewApiKey): Result<{ scopes: Scope[] }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > MAX_KEY_NAME || name.includes('\0')) return fail('invalid_name', 'name', `name must be 1..${MAX_KEY_NAME} characters without NUL bytes`);
    if (!TENANT_RE.test(input.tenant)) return fail('invalid_tenant', 'tenant', 'tenant must be 1..63 letters, digits, _ and -, starting with a letter or digit');
    const { scopes, unknown } = parseScopes(input.scopes);
    if (unknown.length > 0) return fail('invalid_scope', 'scopes', `unknown scope ${JSON.stringify(unknown[0])}; known: ${SCOPES.join(', ')}`);
    if (scopes.length === 0) return fail('invalid_scope', 'scopes', 'a key needs at least one scope');
    if (input.expiresAt && input.expiresAt.getTime() <= now()) return fail('invalid_expiry', 'expiresAt', 'expiresAt must be in the future');
    return ok({ scopes });
  }

  async function insert(id: string, input: NewApiKey, scopes: Scope[], salt: string, hash: string): Promise<ApiKeyInfo> {
    const [row] = await db
      .insert(apiKeys)
      .values({ id, tenant: input.tenant, name: input.name.trim(), scopes, salt, hash, createdBy: input.createdBy ?? null, expiresAt: input.expiresAt ?? null })
      .returning();
    return info(row!);
  }

  async function create(input: NewApiKey): Promise<Result<{ key: ApiKeyInfo; secret: string }>> {
    const checked = validate(input);
    if (!checked.ok) return checked;
    const id = options.newId();
    const made = newSecret(options.random);
    const key = await insert(id, input, checked.value.scopes, made.salt, made.hash);
    return ok({ key, secret: formatSecret('sgk', id, made.secret) });
  }

  /**
   * Makes sure the bootstrap key exists (all scopes, default tenant). A revoked
   * bootstrap key stays revoked: 'revoked' tells the caller to warn.
   */
  async function ensureBootstrap(tenant: string): Promise<'created' | 'exists' | 'revoked' | 'none'> {
    if (!options.bootstrapSecret || !bootstrapId) return 'none';
    const [existing] = await db.select().from(apiKeys).where(eq(apiKeys.id, bootstrapId));
    if (existing) return existing.revokedAt ? 'revoked' : 'exists';
    const salt = options.random(16).toString('base64url');
    await db
      .insert(apiKeys)
      .values({ id: bootstrapId, tenant, name: 'bootstrap admin (SYNAPSE_BOOTSTRAP_ADMIN_KEY)', scopes: [...SCOPES], salt, hash: hashSecret(options.bootstrapSecret, salt) })
      .onConflictDoNothing();
    return 'created';
  }

  async function lookup(token: string): Promise<Result<Principal, AuthFailure>> {
    const parsed = parseSecret(token);
    let id: string;
    let secret: string;
    if (parsed && parsed.kind === 'sgk') {
      id = parsed.id;
      secret = parsed.secret;
    } else if (bootstrapId && token === options.bootstrapSecret) {
      id = bootstrapId;
      secret = token;
    } else {
      return authFailure('unauthenticated', 'the API key is not valid');
    }
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
    if (!row || !secretMatches(secret, row)) return authFailure('unauthenticated', 'the API key is not valid');
    if (row.revokedAt) return authFailure('key_revoked', 'the API key was revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= now()) return authFailure('key_expired', 'the API key has expired');
    return ok({ keyId: row.id, name: row.name, tenant: row.tenant, scopes: new Set(parseScopes(row.scopes).scopes), expiresAt: row.expiresAt });
  }

  /** Checks a presented key; answers from a cache of KEY_CACHE_MS. */
  async function authenticate(token: string): Promise<Result<Principal, AuthFailure>> {
    const t = now();
    const hit = cache.get(token);
    if (hit && hit.until > t) {
      const result = hit.result;
      if (result.ok && result.value.expiresAt && result.value.expiresAt.getTime() <= t) return authFailure('key_expired', 'the API key has expired');
      return result;
    }
    const result = await lookup(token);
    if (cache.size >= KEY_CACHE_MAX) cache.clear();
    cache.set(token, { until: t + KEY_CACHE_MS, result });
    return result;
  }

  function forget(keyId: string): void {
    for (const [token, entry] of cache) if (entry.result.ok && entry.result.value.keyId === keyId) cache.delete(token);
  }

  async function revoke(id: string, tenant: string | null): Promise<Result<ApiKeyInfo>> {
    const where = tenant === null ? eq(apiKeys.id, id) : and(eq(apiKeys.id, id), eq(apiKeys.tenant, tenant));
    const [row] = await db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(where)
      .returning();
    if (!row) return fail('not_found', 'id', 'API key not found');
    forget(id);
    return ok(info(row));
  }

  async function list(tenant: string): Promise<ApiKeyInfo[]> {
    const rows = await db.select().from(apiKeys).where(eq(apiKeys.tenant, tenant)).orderBy(desc(apiKeys.id)).limit(1_000);
    return rows.map(info);
  }

  /** Keys that can still authenticate. */
  async function activeCount(): Promise<number> {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(apiKeys)
      .where(and(isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date(now())))));
    return Number(row?.n ?? 0);
  }

  /** Of `ids`, those revoked or expired by now. */
  async function endedAmong(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(inArray(apiKeys.id, [...ids]), or(isNotNull(apiKeys.revokedAt), lte(apiKeys.expiresAt, new Date(now())))));
    for (const row of rows) forget(row.id);
    return rows.map((r) => r.id);
  }

  return { create, ensureBootstrap, authenticate, revoke, list, activeCount, endedAmong, forget };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
