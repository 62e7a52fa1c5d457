// Identity and access, end to end: API keys over HTTP, SSE and graphql-ws,
// every root field's scope, tenant isolation of every operation and
// subscription in both directions, revocation of live subscriptions, the
// audit log, and the start-up rule (no key → loopback only).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_FIELD_SCOPES } from '../server/src/graphql/authorize.js';
import { SCOPES, type Scope } from '../server/src/auth/scopes.js';
import { parseConfig } from '../server/src/config/config.js';
import { startGateway } from '../server/src/gateway.js';
import { createLogger } from '../server/src/observability/logger.js';
import { startTestAxon, type TestAxon } from './helpers/axon.js';
import { freshDatabase } from './helpers/database.js';
import { messagingEnv, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ROOT } from './helpers/process.js';
import { subscribeSse, subscribeWs, wsClient } from './helpers/subscribe.js';
import { eventually } from './helpers/wait.js';

type GqlResult = { status: number; data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const BOOTSTRAP = randomBytes(32).toString('base64url');

async function gqlAs(url: string, key: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, ...((await res.json()) as object) };
}

async function restAs(url: string, key: string | null, method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${url}${route}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The `code` of the first error, or of a typed error result. */
function codeOf(result: GqlResult, field: string): string | null {
  const error = result.errors?.[0]?.extensions?.code;
  if (typeof error === 'string') return error;
  const value = result.data?.[field];
  return value && typeof value === 'object' && typeof value.code === 'string' ? value.code : null;
}

interface Tenant {
  name: string;
  admin: string;
  serviceId: string;
  axon: TestAxon;
  definitionId: string;
  runId: string;
  webhookId: string;
  keyId: string;
  credentialId: string;
}

let gw: TestGateway;
const tenants: Record<'alpha' | 'beta', Tenant> = {} as never;

async function createKey(admin: string, tenant: string, scopes: readonly string[], extra: Record<string, unknown> = {}) {
  const created = await gqlAs(
    gw.url,
    admin,
    `mutation ($name: String!, $tenant: String, $scopes: [String!]!, $expiresAt: DateTime) {
      createApiKey(name: $name, tenant: $tenant, scopes: $scopes, expiresAt: $expiresAt) {
        __typename ... on CreateApiKeyPayload { secret apiKey { id tenant scopes } } ... on Error { code message }
      }
    }`,
    { name: `key ${scopes.join(',')}`, tenant, scopes, ...extra },
  );
  const payload = created.data?.createApiKey;
  if (!payload?.secret) throw new Error(`createApiKey failed: ${JSON.stringify(created)}`);
  return { secret: payload.secret as string, id: payload.apiKey.id as string };
}

async function setUpTenant(name: 'alpha' | 'beta'): Promise<Tenant> {
  const admin = await createKey(BOOTSTRAP, name, ['all']);
  const serviceId = `svc-${name}-${randomBytes(3).toString('hex')}`;
  const credential = await gqlAs(gw.url, admin.secret, 'mutation ($s: ID!) { createAgentCredential(serviceId: $s) { ... on CreateAgentCredentialPayload { secret credential { id } } ... on Error { code } } }', { s: serviceId });
  const secret = credential.data?.createAgentCredential?.secret as string;
  expect(secret).toMatch(/^sga_/);
  const brokerUrl = new URL(gw.gateway.brokerUrl);
  brokerUrl.username = serviceId;
  brokerUrl.password = secret;
  const axon = await startTestAxon({ url: brokerUrl.toString(), prefix: gw.prefix, serviceId, actions: ['restart'], runners: ['command'], tenant: name, clean: true });
  await eventually(async () => (await gqlAs(gw.url, admin.secret, 'query ($id: ID!) { service(id: $id) { id } }', { id: serviceId })).data?.service?.id === serviceId, 10_000, `service ${serviceId} in the catalogue`);
  const definition = await gqlAs(gw.url, admin.secret, 'mutation { createActionDefinition(input: { title: "List", kind: "command", spec: { cmd: "ls" } }) { ... on CreateActionDefinitionSuccess { actionDefinition { id } } } }');
  const trigger = await gqlAs(gw.url, admin.secret, 'mutation ($s: String!) { triggerAction(input: { serviceId: $s, actionId: "restart" }) { ... on TriggerPayload { run { id } } ... on Error { code } } }', { s: serviceId });
  const webhook = await gqlAs(gw.url, admin.secret, 'mutation { createWebhook(input: { url: "https://hooks.example.com/hook", eventTypes: ["*"] }) { ... on CreateWebhookPayload { webhook { id } } } }');
  return {
    name,
    admin: admin.secret,
    keyId: admin.id,
    serviceId,
    axon,
    credentialId: credential.data?.createAgentCredential?.credential?.id as string,
    definitionId: definition.data?.createActionDefinition?.actionDefinition?.id as string,
    runId: trigger.data?.triggerAction?.run?.id as string,
    webhookId: webhook.data?.createWebhook?.webhook?.id as string,
  };
}

beforeAll(async () => {
  gw = await startTestGateway({ SYNAPSE_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP, SYNAPSE_HEARTBEAT_TIMEOUT_S: '600' });
  tenants.alpha = await setUpTenant('alpha');
  tenants.beta = await setUpTenant('beta');
  for (const t of Object.values(tenants)) {
    expect(t.definitionId).toBeTruthy();
    expect(t.runId).toBeTruthy();
    expect(t.webhookId).toBeTruthy();
  }
}, 60_000);

afterAll(async () => {
  for (const t of Object.values(tenants)) await t?.axon.close();
  await gw?.close();
});

describe('authentication', () => {
  it.each([
    ['no key', null, 'unauthenticated'],
    ['a malformed key', 'not-a-key', 'unauthenticated'],
    ['a well-formed unknown key', `sgk_${'0'.repeat(32)}_${'A'.repeat(43)}`, 'unauthenticated'],
    ['an Axon credential', `sga_${'0'.repeat(32)}_${'A'.repeat(43)}`, 'unauthenticated'],
    ['SQL in the key', "' OR 1=1 --", 'unauthenticated'],
  ])('refuses %s over HTTP with 401 %s, and over graphql-ws with 4403', async (_label, key, code) => {
    const http = await gqlAs(gw.url, key, '{ viewer { tenant } }');
    expect(http.status).toBe(401);
    expect(http.errors?.[0]?.extensions?.code).toBe(code);
    expect(http.data ?? null).toBeNull();

    const closed = await wsCloseCode(key);
    expect(closed).toBe(4403);

    const rest = await restAs(gw.url, key, 'GET', '/api/actions');
    expect(rest.status).toBe(401);
    expect(rest.body.error).toBe(code);
  });

  it('accepts the bootstrap key as written and names its tenant and scopes', async () => {
    const viewer = await gqlAs(gw.url, BOOTSTRAP, '{ viewer { keyId tenant scopes } }');
    expect(viewer.data?.viewer).toMatchObject({ tenant: 'default', scopes: [...SCOPES] });
  });

  it('refuses an expired key with key_expired on every transport', async () => {
    const key = await createKey(tenants.alpha.admin, 'alpha', ['runs:read'], { expiresAt: new Date(Date.now() + 1_500).toISOString() });
    expect((await gqlAs(gw.url, key.secret, '{ viewer { keyId } }')).data?.viewer?.keyId).toBe(key.id);
    await new Promise((r) => setTimeout(r, 1_700));
    const http = await gqlAs(gw.url, key.secret, '{ viewer { keyId } }');
    expect(http.status).toBe(401);
    expect(http.errors?.[0]?.extensions?.code).toBe('key_expired');
    expect(await wsCloseCode(key.secret)).toBe(4403);
  });
});

/** Opens a raw graphql-ws socket, sends connection_init with `key`, and returns the close code (or 0 when acknowledged). */
function wsCloseCode(key: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const timer = setTimeout(() => reject(new Error('no answer to connection_init')), 5_000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: key === null ? {} : { authorization: `Bearer ${key}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        clearTimeout(timer);
        socket.close();
        resolve(0);
      }
    });
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    socket.on('error', () => {});
  });
}

/** A minimal valid operation per root field (variables from the alpha tenant's fixtures). */
function operationFor(type: 'Query' | 'Mutation' | 'Subscription', field: string, t: Tenant): { query: string; variables: Record<string, unknown> } {
  const ops: Record<string, { query: string; variables?: Record<string, unknown> }> = {
    'Query.actionDefinitions': { query: '{ actionDefinitions(first: 5) { nodes { id } } }' },
    'Query.actionDefinition': { query: 'query ($id: ID!) { actionDefinition(id: $id) { id } }', variables: { id: t.definitionId } },
    'Query.actionConfig': { query: '{ actionConfig { version } }' },
    'Query.availableActions': { query: '{ availableActions(type: "service", subject: {}) { __typename } }' },
    'Query.services': { query: '{ services { id } }' },
    'Query.service': { query: 'query ($id: ID!) { service(id: $id) { id } }', variables: { id: t.serviceId } },
    'Query.runs': { query: '{ runs(first: 5) { nodes { id } } }' },
    'Query.run': { query: 'query ($id: ID!) { run(id: $id) { id } }', variables: { id: t.runId } },
    'Query.webhooks': { query: '{ webhooks { id } }' },
    'Query.webhookDeliveries': { query: '{ webhookDeliveries { id } }' },
    'Query.apiKeys': { query: '{ apiKeys { id } }' },
    'Query.agentCredentials': { query: '{ agentCredentials { id } }' },
    'Query.auditLog': { query: '{ auditLog { id } }' },
    'Query.viewer': { query: '{ viewer { tenant } }' },
    'Mutation.createActionDefinition': { query: 'mutation { createActionDefinition(input: { title: "x", kind: "command", spec: { cmd: "ls" } }) { __typename } }' },
    'Mutation.updateActionDefinition': { query: 'mutation ($id: ID!) { updateActionDefinition(id: $id, input: { title: "changed" }) { __typename } }', variables: { id: t.definitionId } },
    'Mutation.deleteActionDefinition': { query: 'mutation ($id: ID!) { deleteActionDefinition(id: $id) { __typename } }', variables: { id: t.definitionId } },
    'Mutation.triggerAction': { query: 'mutation ($s: String!) { triggerAction(input: { serviceId: $s, actionId: "restart" }) { __typename } }', variables: { s: t.serviceId } },
    'Mutation.runActionDefinition': { query: 'mutation ($d: ID!, $s: String!) { runActionDefinition(input: { definitionId: $d, serviceId: $s }) { __typename } }', variables: { d: t.definitionId, s: t.serviceId } },
    'Mutation.cancelRun': { query: 'mutation ($id: ID!) { cancelRun(id: $id) { __typename } }', variables: { id: t.runId } },
    'Mutation.setActionConfig': { query: 'mutation { setActionConfig(yaml: "version: 1\\nactions: {}\\nmappings: []\\n") { __typename } }' },
    'Mutation.createWebhook': { query: 'mutation { createWebhook(input: { url: "https://hooks.example.com/x", eventTypes: ["*"] }) { __typename } }' },
    'Mutation.deleteWebhook': { query: 'mutation ($id: ID!) { deleteWebhook(id: $id) { __typename } }', variables: { id: t.webhookId } },
    'Mutation.redeliverWebhookDelivery': { query: 'mutation { redeliverWebhookDelivery(id: "00000000-0000-7000-8000-000000000000") { __typename } }' },
    'Mutation.createApiKey': { query: 'mutation { createApiKey(name: "x", scopes: ["runs:read"]) { __typename } }' },
    'Mutation.revokeApiKey': { query: 'mutation ($id: ID!) { revokeApiKey(id: $id) { __typename } }', variables: { id: t.keyId } },
    'Mutation.createAgentCredential': { query: 'mutation ($s: ID!) { createAgentCredential(serviceId: $s) { __typename } }', variables: { s: t.serviceId } },
    'Mutation.revokeAgentCredential': { query: 'mutation ($id: ID!) { revokeAgentCredential(id: $id) { __typename } }', variables: { id: t.credentialId } },
    'Subscription.runEvents': { query: 'subscription ($id: ID!) { runEvents(runId: $id) { seq } }', variables: { id: t.runId } },
    'Subscription.runUpdated': { query: 'subscription { runUpdated { id } }' },
    'Subscription.serviceUpdated': { query: 'subscription { serviceUpdated { id } }' },
  };
  const op = ops[`${type}.${field}`];
  if (!op) throw new Error(`no test operation for ${type}.${field}: add one`);
  return { query: op.query, variables: op.variables ?? {} };
}

const ROOT_FIELDS = (['Query', 'Mutation', 'Subscription'] as const).flatMap((type) => Object.entries(ROOT_FIELD_SCOPES[type]).map(([field, scopes]) => ({ name: `${type}.${field}`, type, field, scopes })));

async function auditCount(): Promise<number> {
  const result = await gqlAs(gw.url, tenants.alpha.admin, '{ auditLog(first: 500) { id } }');
  return (result.data?.auditLog as unknown[]).length;
}

describe('scopes: every root field refuses a key without its scope', () => {
  let keyWithout: Map<string, string>;
  beforeAll(async () => {
    keyWithout = new Map();
    for (const { scopes } of ROOT_FIELDS) {
      const id = [...scopes].sort().join('|');
      if (keyWithout.has(id)) continue;
      const others = SCOPES.filter((s) => !scopes.includes(s));
      keyWithout.set(id, others.length === 0 ? '' : (await createKey(tenants.alpha.admin, 'alpha', others)).secret);
    }
  });

  it.each(ROOT_FIELDS.filter((f) => f.scopes.length < SCOPES.length))('$name needs $scopes', async ({ type, field, scopes }) => {
    const key = keyWithout.get([...scopes].sort().join('|'))!;
    const { query, variables } = operationFor(type, field, tenants.alpha);
    const before = await auditCount();
    if (type === 'Subscription') {
      for (const transport of ['ws', 'sse'] as const) {
        const collected = transport === 'ws' ? subscribeWs(wsClient(gw.url, { connectionParams: { authorization: `Bearer ${key}` } }), query, variables, (d) => d) : subscribeSseAs(key, query, variables);
        await collected.done;
        expect(collected.items).toEqual([]);
        expect(JSON.stringify(collected.errors)).toContain('forbidden');
      }
      return;
    }
    const result = await gqlAs(gw.url, key, query, variables);
    expect(result.errors?.[0]?.extensions?.code).toBe('forbidden');
    expect(result.errors?.[0]?.message).toContain(scopes[0]);
    // Nothing leaks: the field (and so any nullable parent) is null.
    expect(Object.values(result.data ?? {}).every((v) => v === null)).toBe(true);
    expect(await auditCount()).toBe(before);
  });

  it('has a test operation for every root field of the schema', () => {
    for (const { type, field } of ROOT_FIELDS) expect(() => operationFor(type, field, tenants.alpha)).not.toThrow();
  });
});

/** SSE with a key (the shared helper sends none). */
function subscribeSseAs(key: string, query: string, variables: Record<string, unknown>) {
  const originalFetch = globalThis.fetch;
  // The helper builds its own request; wrap fetch for this one call to add the header.
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => originalFetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${key}` } })) as typeof fetch;
  try {
    return subscribeSse(gw.url, query, variables, (d) => d);
  } finally {
    globalThis.fetch = originalFetch;
  }
}

describe.each([
  ['beta', 'alpha'],
  ['alpha', 'beta'],
] as const)('tenant isolation: a %s key against %s', (callerName, ownerName) => {
  const caller = () => tenants[callerName];
  const owner = () => tenants[ownerName];

  it.each([
    ['actionDefinition', (o: Tenant) => operationFor('Query', 'actionDefinition', o), (r: GqlResult) => expect(r.data?.actionDefinition).toBeNull()],
    ['service', (o: Tenant) => operationFor('Query', 'service', o), (r: GqlResult) => expect(r.data?.service).toBeNull()],
    ['run', (o: Tenant) => operationFor('Query', 'run', o), (r: GqlResult) => expect(r.data?.run).toBeNull()],
  ])('%s of the other tenant is null', async (_name, op, check) => {
    const { query, variables } = op(owner());
    const result = await gqlAs(gw.url, caller().admin, query, variables);
    expect(result.errors).toBeUndefined();
    check(result);
  });

  it('lists hold none of the other tenant\'s definitions, services, runs, webhooks, keys, credentials or audit entries', async () => {
    const result = await gqlAs(
      gw.url,
      caller().admin,
      '{ actionDefinitions(first: 200) { nodes { id } } services { id } runs(first: 200) { nodes { id } } webhooks { id } apiKeys { id tenant } agentCredentials { id serviceId } auditLog(first: 500) { target actor } }',
    );
    expect(result.errors).toBeUndefined();
    const d = result.data!;
    expect(d.actionDefinitions.nodes.map((n: { id: string }) => n.id)).toContain(caller().definitionId);
    expect(d.actionDefinitions.nodes.map((n: { id: string }) => n.id)).not.toContain(owner().definitionId);
    expect(d.services.map((s: { id: string }) => s.id)).toEqual([caller().serviceId]);
    expect(d.runs.nodes.map((r: { id: string }) => r.id)).not.toContain(owner().runId);
    expect(d.webhooks.map((w: { id: string }) => w.id)).not.toContain(owner().webhookId);
    expect(d.apiKeys.every((k: { tenant: string }) => k.tenant === callerName)).toBe(true);
    expect(d.agentCredentials.map((c: { serviceId: string }) => c.serviceId)).toEqual([caller().serviceId]);
    expect(d.auditLog.map((e: { target: string }) => e.target)).not.toContain(owner().runId);
    expect(d.auditLog.map((e: { actor: string }) => e.actor)).not.toContain(owner().keyId);
  });

  it.each([
    ['triggerAction', 'Mutation', 'triggerAction', 'unknown_service'],
    ['runActionDefinition', 'Mutation', 'runActionDefinition', 'unknown_definition'],
    ['updateActionDefinition', 'Mutation', 'updateActionDefinition', 'not_found'],
    ['deleteActionDefinition', 'Mutation', 'deleteActionDefinition', 'not_found'],
    ['cancelRun', 'Mutation', 'cancelRun', 'not_found'],
    ['deleteWebhook', 'Mutation', 'deleteWebhook', 'not_found'],
    ['revokeApiKey', 'Mutation', 'revokeApiKey', 'not_found'],
    ['revokeAgentCredential', 'Mutation', 'revokeAgentCredential', 'not_found'],
    ['createAgentCredential for its service', 'Mutation', 'createAgentCredential', 'service_id_taken'],
  ] as const)('%s on the other tenant\'s object fails (%s.%s: %s) and changes nothing', async (_label, type, field, code) => {
    const { query, variables } = operationFor(type, field, owner());
    const typed = query.replace('{ __typename }', '{ __typename ... on Error { code } }');
    const ownerAuditBefore = (await gqlAs(gw.url, owner().admin, '{ auditLog(first: 500) { id } }')).data?.auditLog.length;
    const result = await gqlAs(gw.url, caller().admin, typed, variables);
    expect(codeOf(result, field)).toBe(code);
    const ownerView = await gqlAs(gw.url, owner().admin, 'query ($d: ID!, $r: ID!) { actionDefinition(id: $d) { title } run(id: $r) { cancelRequested } webhooks { id } apiKeys { id revokedAt } agentCredentials { id revokedAt } }', { d: owner().definitionId, r: owner().runId });
    expect(ownerView.data?.actionDefinition?.title).toBe('List');
    expect(ownerView.data?.run?.cancelRequested).toBe(false);
    expect(ownerView.data?.webhooks.map((w: { id: string }) => w.id)).toContain(owner().webhookId);
    expect(ownerView.data?.apiKeys.find((k: { id: string }) => k.id === owner().keyId)?.revokedAt).toBeNull();
    expect(ownerView.data?.agentCredentials.every((c: { revokedAt: string | null }) => c.revokedAt === null)).toBe(true);
    expect((await gqlAs(gw.url, owner().admin, '{ auditLog(first: 500) { id } }')).data?.auditLog.length).toBe(ownerAuditBefore);
    expect(owner().axon.commands.length).toBe(1);
  });

  it('cannot create a key for the other tenant', async () => {
    const result = await gqlAs(gw.url, caller().admin, 'mutation ($t: String) { createApiKey(name: "x", tenant: $t, scopes: ["all"]) { __typename ... on Error { code } } }', { t: ownerName });
    expect(codeOf(result, 'createApiKey')).toBe('forbidden_tenant');
  });

  it('REST: reads, triggers and changes nothing of the other tenant', async () => {
    expect((await restAs(gw.url, caller().admin, 'GET', `/api/actions/${owner().definitionId}`)).status).toBe(404);
    expect((await restAs(gw.url, caller().admin, 'PUT', `/api/actions/${owner().definitionId}`, { title: 'stolen' })).status).toBe(404);
    expect((await restAs(gw.url, caller().admin, 'DELETE', `/api/actions/${owner().definitionId}`)).status).toBe(404);
    const list = await restAs(gw.url, caller().admin, 'GET', '/api/actions');
    expect((list.body.actions as Array<{ id: number }>).map((a) => String(a.id))).not.toContain(owner().definitionId);
    const trigger = await restAs(gw.url, caller().admin, 'POST', `/api/v1/services/${owner().serviceId}/actions/restart`);
    expect(trigger.status).toBe(404);
    expect(trigger.body.error).toBe('unknown_service');
    expect(owner().axon.commands.length).toBe(1);
  });

  it('subscriptions: the other tenant\'s run events are refused, and its run and service changes never arrive', async () => {
    const ws = wsClient(gw.url, { connectionParams: { authorization: `Bearer ${caller().admin}` } });
    const events = subscribeWs(ws, 'subscription ($id: ID!) { runEvents(runId: $id) { seq } }', { id: owner().runId }, (d) => d);
    await events.done;
    expect(events.items).toEqual([]);
    expect(JSON.stringify(events.errors)).toContain('not_found');
    const sseEvents = subscribeSseAs(caller().admin, 'subscription ($id: ID!) { runEvents(runId: $id) { seq } }', { id: owner().runId });
    await sseEvents.done;
    expect(sseEvents.items).toEqual([]);

    const runUpdates = subscribeWs(ws, 'subscription { runUpdated { id } }', {}, (d) => d.runUpdated as { id: string });
    const serviceUpdates = subscribeWs(ws, 'subscription { serviceUpdated { id } }', {}, (d) => d.serviceUpdated as { id: string });
    const sseRuns = subscribeSseAs(caller().admin, 'subscription { runUpdated { id } }', {});
    await new Promise((r) => setTimeout(r, 300));
    // The owner triggers (a run change) and its Axon re-announces as warning (a service change).
    const own = await gqlAs(gw.url, owner().admin, 'mutation ($s: String!) { triggerAction(input: { serviceId: $s, actionId: "restart" }) { ... on TriggerPayload { run { id } } } }', { s: owner().serviceId });
    const ownRunId = own.data?.triggerAction?.run?.id as string;
    await owner().axon.announce({ status: 'warning' });
    await owner().axon.waitForCommands(2);
    // And the caller does the same, so the subscriptions are known to be live.
    const mine = await gqlAs(gw.url, caller().admin, 'mutation ($s: String!) { triggerAction(input: { serviceId: $s, actionId: "restart" }) { ... on TriggerPayload { run { id } } } }', { s: caller().serviceId });
    const myRunId = mine.data?.triggerAction?.run?.id as string;
    await caller().axon.announce({ status: 'warning' });
    await eventually(() => runUpdates.items.some((r) => r.id === myRunId) && sseRuns.items.some((r) => (r as { runUpdated: { id: string } }).runUpdated.id === myRunId) && serviceUpdates.items.length > 0, 10_000, 'the caller\'s own changes');
    expect(runUpdates.items.map((r) => r.id)).not.toContain(ownRunId);
    expect(JSON.stringify(sseRuns.items)).not.toContain(ownRunId);
    expect(serviceUpdates.items.map((s) => s.id)).not.toContain(owner().serviceId);
    runUpdates.stop();
    serviceUpdates.stop();
    sseRuns.stop();
    await ws.dispose();
    // Leave both tenants as the other rows expect them: one command each, online.
    await caller().axon.waitForCommands(2);
    owner().axon.commands.splice(1);
    caller().axon.commands.splice(1);
    await owner().axon.announce();
    await caller().axon.announce();
  });
});

describe('revocation', () => {
  it('ends the revoked key\'s open subscriptions within 5 s (graphql-ws closes 4403, SSE ends with key_revoked) and refuses its next request', async () => {
    const key = await createKey(tenants.alpha.admin, 'alpha', ['runs:read']);
    const socket = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    const closed = new Promise<{ code: number; at: number }>((resolve) => socket.on('close', (code) => resolve({ code, at: Date.now() })));
    await new Promise<void>((resolve) => socket.on('open', () => resolve()));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key.secret}` } }));
    await new Promise<void>((resolve) => socket.on('message', (data) => JSON.parse(String(data)).type === 'connection_ack' && resolve()));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { runUpdated { id } }' } }));
    const sse = subscribeSseAs(key.secret, 'subscription { runUpdated { id } }', {});
    await new Promise((r) => setTimeout(r, 300));

    const revokedAt = Date.now();
    const revoke = await gqlAs(gw.url, tenants.alpha.admin, 'mutation ($id: ID!) { revokeApiKey(id: $id) { ... on RevokeApiKeySuccess { apiKey { revokedAt } } } }', { id: key.id });
    expect(revoke.data?.revokeApiKey?.apiKey?.revokedAt).toBeTruthy();
    const close = await closed;
    expect(close.code).toBe(4403);
    expect(close.at - revokedAt).toBeLessThan(5_000);
    await sse.done;
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(JSON.stringify(sse.errors)).toContain('key_revoked');

    const after = await gqlAs(gw.url, key.secret, '{ viewer { keyId } }');
    expect(after.status).toBe(401);
    expect(after.errors?.[0]?.extensions?.code).toBe('key_revoked');
  });

  it('ends subscriptions of a key revoked by another gateway process sharing the database', async () => {
    const other = await startTestGateway({ SYNAPSE_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP }, { sameDatabaseAs: gw });
    try {
      const key = await createKey(tenants.alpha.admin, 'alpha', ['runs:read']);
      const ws = wsClient(gw.url, { connectionParams: { authorization: `Bearer ${key.secret}` } });
      const updates = subscribeWs(ws, 'subscription { runUpdated { id } }', {}, (d) => d);
      await new Promise((r) => setTimeout(r, 300));
      const revokedAt = Date.now();
      await gqlAs(other.url, tenants.alpha.admin, 'mutation ($id: ID!) { revokeApiKey(id: $id) { __typename } }', { id: key.id });
      await updates.done;
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
      const ended = updates.errors[0] as { code?: number } | undefined;
      expect(ended?.code === 4403 || JSON.stringify(updates.errors).includes('key_revoked')).toBe(true);
      await ws.dispose();
    } finally {
      await other.close();
    }
  });
});

describe('audit log', () => {
  it('records who triggered, cancelled and changed the registry, with the key id', async () => {
    const key = await createKey(tenants.alpha.admin, 'alpha', ['actions:trigger', 'runs:cancel', 'definitions:write']);
    const run = await gqlAs(gw.url, key.secret, 'mutation ($s: String!) { triggerAction(input: { serviceId: $s, actionId: "restart" }) { ... on TriggerPayload { run { id } } } }', { s: tenants.alpha.serviceId });
    const runId = run.data?.triggerAction?.run?.id as string;
    await gqlAs(gw.url, key.secret, 'mutation ($id: ID!) { cancelRun(id: $id) { __typename } }', { id: runId });
    const created = await restAs(gw.url, key.secret, 'POST', '/api/actions', { title: 'audited', kind: 'command', spec: { cmd: 'true' } });
    const definitionId = String((created.body.action as { id: number }).id);
    await gqlAs(gw.url, key.secret, 'mutation ($id: ID!) { deleteActionDefinition(id: $id) { __typename } }', { id: definitionId });

    const log = await gqlAs(gw.url, tenants.alpha.admin, '{ auditLog(first: 20) { actor action target at detail } }');
    const mine = (log.data?.auditLog as Array<{ actor: string; action: string; target: string; at: string; detail: Record<string, unknown> }>).filter((e) => e.actor === key.id);
    expect(mine.map((e) => [e.action, e.target])).toEqual([
      ['definition.delete', definitionId],
      ['definition.create', definitionId],
      ['run.cancel', runId],
      ['run.trigger', runId],
    ]);
    expect(mine.find((e) => e.action === 'run.trigger')?.detail).toMatchObject({ serviceId: tenants.alpha.serviceId, actionId: 'restart', origin: 'graphql' });
    for (const entry of mine) expect(Date.now() - Date.parse(entry.at)).toBeLessThan(60_000);
    // The command names the key as its actor.
    const command = (await tenants.alpha.axon.waitForCommands(2)).at(-1)!;
    expect(command.actorTrn).toBe(`trn:synapse:alpha:key/${key.id}`);
    tenants.alpha.axon.commands.splice(1);

    const filtered = await gqlAs(gw.url, tenants.alpha.admin, '{ auditLog(action: "run.cancel") { action } }');
    expect((filtered.data?.auditLog as Array<{ action: string }>).every((e) => e.action === 'run.cancel')).toBe(true);
  });
});

describe('REST scopes', () => {
  it.each([
    ['GET', '/api/actions', undefined, 'definitions:read'],
    ['POST', '/api/actions', { title: 'x', kind: 'command', spec: { cmd: 'ls' } }, 'definitions:write'],
    ['POST', '/api/v1/services/{svc}/actions/restart', undefined, 'actions:trigger'],
  ] as const)('%s %s needs %s: 403 forbidden without it, nothing changed', async (method, route, body, scope) => {
    const without = await createKey(tenants.alpha.admin, 'alpha', SCOPES.filter((s) => s !== scope) as Scope[]);
    const path = route.replace('{svc}', tenants.alpha.serviceId);
    const before = await auditCount();
    const refused = await restAs(gw.url, without.secret, method, path, body);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: 'forbidden' });
    expect(String(refused.body.detail)).toContain(scope);
    expect(await auditCount()).toBe(before);
    expect(tenants.alpha.axon.commands.length).toBe(1);
  });

  it('POST /api/v1/events takes an Axon credential, not an API key, and only for its own service', async () => {
    const byKey = await restAs(gw.url, tenants.alpha.admin, 'POST', '/api/v1/events', {});
    expect(byKey.status).toBe(403);
  });
});

describe('start-up without a key', () => {
  async function start(env: Record<string, string>) {
    const database = await freshDatabase();
    const parsed = parseConfig({ PORT: '0', SYNAPSE_DATA_DIR: database.dataDir, ...(database.url ? { DATABASE_URL: database.url } : {}), ...messagingEnv(), LOG_LEVEL: 'warn', ...env });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const lines: string[] = [];
    const logger = createLogger('warn', { write: (line: string) => lines.push(line) } as never);
    try {
      const gateway = await startGateway(parsed.config, { logger });
      await gateway.close();
      return { started: true, message: lines.join('\n') };
    } catch (error) {
      return { started: false, message: (error as Error).message };
    } finally {
      await database.drop();
    }
  }

  it('refuses to start on a non-loopback address and says how to create a key', async () => {
    const outcome = await start({ HOST: '0.0.0.0' });
    expect(outcome.started).toBe(false);
    expect(outcome.message).toContain('SYNAPSE_BOOTSTRAP_ADMIN_KEY');
    expect(outcome.message).toContain('npx synapse keys create');
  });

  it('starts open on loopback with a loud warning', async () => {
    const outcome = await start({ HOST: '127.0.0.1' });
    expect(outcome.started).toBe(true);
    expect(outcome.message).toContain('RUNNING OPEN');
  });

  it('npx synapse keys create makes the first key; the gateway then requires keys on loopback too', async () => {
    const database = await freshDatabase({ onDisk: true });
    try {
      const env = { ...process.env, LOG_LEVEL: 'warn', SYNAPSE_DATA_DIR: database.dataDir, DATABASE_URL: database.url ?? '' };
      const cli = spawnSync(process.execPath, ['client/bin/synapse.js', 'keys', 'create', '--name', 'first admin', '--scopes', 'runs:read,keys:admin', '--tenant', 'ops'], { cwd: ROOT, env, encoding: 'utf8' });
      expect(cli.status).toBe(0);
      const secret = cli.stdout.trim();
      expect(secret).toMatch(/^sgk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      expect(cli.stderr).toContain('shown only now');
      expect(cli.stderr).not.toContain(secret);
      const gateway = await startTestGateway({}, { reuseDatabase: database });
      try {
        expect((await gqlAs(gateway.url, null, '{ viewer { tenant } }')).status).toBe(401);
        const viewer = await gqlAs(gateway.url, secret, '{ viewer { tenant scopes } }');
        expect(viewer.data?.viewer).toEqual({ tenant: 'ops', scopes: ['runs:read', 'keys:admin'] });
      } finally {
        await gateway.gateway.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('starts on a non-loopback address with a bootstrap key, and never logs the key', async () => {
    const outcome = await start({ HOST: '0.0.0.0', SYNAPSE_BOOTSTRAP_ADMIN_KEY: BOOTSTRAP });
    expect(outcome.started).toBe(true);
    expect(outcome.message).not.toContain(BOOTSTRAP);
  });
});
