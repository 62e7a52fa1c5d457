// REST compatibility for the action registry (seed 001): `/api/actions`.
// Thin: parse the request, call the registry, shape the seed's response.
import type { DomainError } from '../../errors.js';
import { type ActionDefinition, PAGE, parseDefinitionId, type Registry } from '../../registry/registry.js';
import type { AuditLog } from '../../audit/audit.js';
import { actorOf } from '../../auth/principal.js';
import { readJsonBody } from '../body.js';
import { json, type RestResponse, type createRouter } from './router.js';

export interface RestContext {
  registry: Registry;
  audit: AuditLog;
  maxBodyBytes: number;
}

const READ = { scopes: ['definitions:read'] } as const;
const WRITE = { scopes: ['definitions:write'] } as const;

const summary = (d: ActionDefinition) => ({
  id: d.id,
  title: d.title,
  kind: d.kind,
  enabled: d.enabled,
  version: d.version,
  created_at: d.createdAt.toISOString(),
  updated_at: d.updatedAt.toISOString(),
});

const full = (d: ActionDefinition) => ({ ...summary(d), tenant: d.tenant, spec: d.spec });

export function errorResponse(error: DomainError): RestResponse {
  if (error.code === 'not_found') return json(404, { error: 'not_found', detail: error.message });
  return json(400, { error: error.code, detail: error.message, field: error.field });
}

const notFound = () => json(404, { error: 'not_found', detail: 'action definition not found' });

/** `limit`: an integer, clamped to 1..200; absent → 50; anything else → 400. */
export function parseLimit(raw: string | null): { ok: true; value: number } | { ok: false } {
  if (raw === null) return { ok: true, value: PAGE.defaultSize };
  if (!/^-?[0-9]{1,12}$/.test(raw.trim())) return { ok: false };
  return { ok: true, value: Math.min(PAGE.max, Math.max(PAGE.min, Number(raw))) };
}

export function registerActionRoutes(router: ReturnType<typeof createRouter>, ctx: RestContext): void {
  const family = '/api/actions';
  const itemFamily = '/api/actions/:id';

  router.add('GET', '/api/actions', { access: READ, family }, async ({ principal, query }) => {
      const limit = parseLimit(query.get('limit'));
      if (!limit.ok) return json(400, { error: 'invalid_limit', detail: 'limit must be an integer (clamped to 1..200)' });
      const page = await ctx.registry.list(principal.tenant, { first: limit.value });
      return json(200, { actions: page.items.map(summary) });
  });

  router.add('POST', '/api/actions', { access: WRITE, family }, async ({ req, principal }) => {
      const body = await readJsonBody(req, ctx.maxBodyBytes);
      if (!body.ok) return json(body.status, { error: body.error, detail: body.detail });
      const created = await ctx.registry.create(principal.tenant, body.value);
      if (!created.ok) return errorResponse(created.error);
      await ctx.audit.record({ tenant: principal.tenant, actor: actorOf(principal), action: 'definition.create', target: String(created.value.id), detail: { title: created.value.title, via: 'rest' } });
      return json(200, { ok: true, action: full(created.value) });
  });

  router.add('GET', '/api/actions/:id', { access: READ, family: itemFamily }, async ({ principal, params }) => {
      const id = parseDefinitionId(params.id);
      const found = id === null ? null : await ctx.registry.get(principal.tenant, id);
      return found ? json(200, { action: full(found) }) : notFound();
  });

  router.add('PUT', '/api/actions/:id', { access: WRITE, family: itemFamily }, async ({ req, principal, params }) => {
      const id = parseDefinitionId(params.id);
      if (id === null) return notFound();
      const body = await readJsonBody(req, ctx.maxBodyBytes);
      if (!body.ok) return json(body.status, { error: body.error, detail: body.detail });
      const updated = await ctx.registry.update(principal.tenant, id, body.value);
      if (!updated.ok) return errorResponse(updated.error);
      await ctx.audit.record({ tenant: principal.tenant, actor: actorOf(principal), action: 'definition.update', target: String(id), detail: { version: updated.value.version, via: 'rest' } });
      return json(200, { ok: true, action: full(updated.value) });
  });

  router.add('DELETE', '/api/actions/:id', { access: WRITE, family: itemFamily }, async ({ principal, params }) => {
      const id = parseDefinitionId(params.id);
      if (id === null) return notFound();
      const removed = await ctx.registry.remove(principal.tenant, id);
      if (!removed.ok) return errorResponse(removed.error);
      await ctx.audit.record({ tenant: principal.tenant, actor: actorOf(principal), action: 'definition.delete', target: String(id), detail: { via: 'rest' } });
      return json(200, { ok: true });
  });
}
