// Identity and access in GraphQL: API keys (secret shown once), Axon
// credentials for the MQTT broker, the caller's own identity, and the audit log.
import { actorOf } from '../../auth/principal.js';
import type { ApiKeyInfo } from '../../auth/keys.js';
import type { AgentCredentialInfo } from '../../auth/agents.js';
import { SCOPES } from '../../auth/scopes.js';
import { AUDIT_ACTIONS, type AuditEntry } from '../../audit/audit.js';
import { NotFoundFailure, UserFailure, builder, unwrap } from '../builder.js';
import type { GatewayContext } from '../context.js';

const ApiKeyRef = builder.objectRef<ApiKeyInfo>('ApiKey').implement({
  description: 'An API key. Its secret is shown only once, by createApiKey; the gateway stores a salted hash.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    tenant: t.exposeString('tenant'),
    scopes: t.exposeStringList('scopes', { description: `Any of ${SCOPES.join(', ')}.` }),
    createdBy: t.exposeID('createdBy', { nullable: true, description: 'The key that created it; null for the bootstrap key and the CLI.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreateApiKeyPayload = builder.objectRef<{ key: ApiKeyInfo; secret: string }>('CreateApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.key }),
    secret: t.exposeString('secret', { description: 'Send it as Authorization: Bearer <secret>. Shown only here: store it now.' }),
  }),
});

const AgentCredentialRef = builder.objectRef<AgentCredentialInfo>('AgentCredential').implement({
  description: 'An Axon\'s MQTT credential: user name and client id = serviceId, password = the secret shown once by createAgentCredential.',
  fields: (t) => ({
    id: t.exposeID('id'),
    serviceId: t.exposeID('serviceId'),
    tenant: t.exposeString('tenant'),
    createdBy: t.exposeID('createdBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

interface CreatedCredential {
  credential: AgentCredentialInfo;
  secret: string;
  mosquittoPasswordLine: string;
}
const CreateAgentCredentialPayload = builder.objectRef<CreatedCredential>('CreateAgentCredentialPayload').implement({
  fields: (t) => ({
    credential: t.field({ type: AgentCredentialRef, resolve: (p) => p.credential }),
    secret: t.exposeString('secret', { description: 'The MQTT password. Shown only here: store it now.' }),
    mosquittoPasswordLine: t.exposeString('mosquittoPasswordLine', { description: 'The same credential as a Mosquitto password-file line (docs/security.md).' }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditEntry>('AuditEntry').implement({
  description: 'One recorded change: who (an API key id, or "open" while no key is configured), when and what.',
  fields: (t) => ({
    id: t.id({ resolve: (e) => String(e.id) }),
    at: t.expose('at', { type: 'DateTime' }),
    actor: t.exposeString('actor'),
    action: t.exposeString('action', { description: `One of ${AUDIT_ACTIONS.join(', ')}.` }),
    target: t.exposeString('target', { nullable: true }),
    detail: t.field({ type: 'JSON', resolve: (e) => e.detail }),
  }),
});

const ViewerRef = builder.objectRef<GatewayContext['principal']>('Viewer').implement({
  description: 'The caller: its key, tenant and scopes.',
  fields: (t) => ({
    keyId: t.exposeID('keyId', { nullable: true, description: 'Null while the gateway runs open (no key configured).' }),
    name: t.exposeString('name'),
    tenant: t.exposeString('tenant'),
    scopes: t.stringList({ resolve: (p) => [...p.scopes] }),
  }),
});

/** Only the operator tenant's key admins may act on other tenants. */
function targetTenant(ctx: GatewayContext, requested: string | null | undefined): string {
  const tenant = requested ?? ctx.principal.tenant;
  if (tenant !== ctx.principal.tenant && ctx.principal.tenant !== ctx.operatorTenant) {
    throw new UserFailure('forbidden_tenant', 'tenant', `a key of tenant ${ctx.principal.tenant} can only manage keys of its own tenant`);
  }
  return tenant;
}

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    description: 'Who the gateway thinks the caller is.',
    resolve: (_root, _args, ctx) => ctx.principal,
  }),
  apiKeys: t.field({
    type: [ApiKeyRef],
    description: 'This tenant\'s API keys, newest first (at most 1,000). Secrets are never listed.',
    resolve: (_root, _args, ctx) => ctx.keys.list(ctx.principal.tenant),
  }),
  agentCredentials: t.field({
    type: [AgentCredentialRef],
    description: 'This tenant\'s Axon credentials, newest first; of one service when `serviceId` is given.',
    args: { serviceId: t.arg.id() },
    resolve: (_root, args, ctx) => ctx.agents.list(ctx.principal.tenant, args.serviceId === null || args.serviceId === undefined ? null : String(args.serviceId)),
  }),
  auditLog: t.field({
    type: [AuditEntryRef],
    description: 'This tenant\'s audit log, newest first. `first` defaults to 50 and is clamped to 1..500; `before` (an entry id) pages on; `action` filters (run.trigger, …).',
    args: { first: t.arg.int(), before: t.arg.id(), action: t.arg.string() },
    resolve: (_root, args, ctx) => {
      const before = args.before === null || args.before === undefined ? null : Number(args.before);
      return ctx.audit.list(ctx.principal.tenant, {
        first: Math.min(500, Math.max(1, args.first ?? 50)),
        before: before !== null && Number.isSafeInteger(before) ? before : null,
        action: args.action ?? null,
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreateApiKeyPayload,
    description: 'Creates an API key and returns its secret once. `tenant` defaults to the caller\'s; only key admins of the operator tenant may name another. Errors: invalid_name, invalid_tenant, invalid_scope, invalid_expiry, forbidden_tenant.',
    args: {
      name: t.arg.string({ required: true }),
      tenant: t.arg.string(),
      scopes: t.arg.stringList({ required: true, description: `Any of ${SCOPES.join(', ')}, or "all".` }),
      expiresAt: t.arg({ type: 'DateTime' }),
    },
    errors: { types: [UserFailure], directResult: true },
    resolve: async (_root, args, ctx) => {
      const tenant = targetTenant(ctx, args.tenant);
      const created = unwrap(await ctx.keys.create({ name: args.name, tenant, scopes: args.scopes, expiresAt: args.expiresAt ?? null, createdBy: ctx.principal.keyId }));
      ctx.access.secure();
      await ctx.audit.record({ tenant, actor: actorOf(ctx.principal), action: 'api_key.create', target: created.key.id, detail: { name: created.key.name, scopes: created.key.scopes } });
      return created;
    },
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: 'Revokes a key of this tenant at once: its requests fail and its open subscriptions end within seconds, on every gateway process.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundFailure], dataField: { name: 'apiKey' } },
    resolve: async (_root, { id }, ctx) => {
      const revoked = unwrap(await ctx.keys.revoke(String(id), ctx.principal.tenant === ctx.operatorTenant ? null : ctx.principal.tenant));
      ctx.access.revoked(revoked.id);
      await ctx.audit.record({ tenant: revoked.tenant, actor: actorOf(ctx.principal), action: 'api_key.revoke', target: revoked.id, detail: { name: revoked.name } });
      return revoked;
    },
  }),
  createAgentCredential: t.field({
    type: CreateAgentCredentialPayload,
    description: 'Creates an MQTT credential for the Axon of `serviceId` in this tenant and returns its secret once. Errors: invalid_service_id, service_id_taken.',
    args: { serviceId: t.arg.id({ required: true }) },
    errors: { types: [UserFailure], directResult: true },
    resolve: async (_root, { serviceId }, ctx) => {
      const created = unwrap(await ctx.agents.create(String(serviceId), ctx.principal.tenant, ctx.principal.keyId));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'agent_credential.create', target: created.credential.id, detail: { serviceId: created.credential.serviceId } });
      return created;
    },
  }),
  revokeAgentCredential: t.field({
    type: AgentCredentialRef,
    description: 'Revokes an Axon credential of this tenant: the broker refuses it from the next connection.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundFailure], dataField: { name: 'credential' } },
    resolve: async (_root, { id }, ctx) => {
      const revoked = unwrap(await ctx.agents.revoke(String(id), ctx.principal.tenant));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'agent_credential.revoke', target: revoked.id, detail: { serviceId: revoked.serviceId } });
      return revoked;
    },
  }),
}));
