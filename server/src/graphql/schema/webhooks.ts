// Webhooks in GraphQL: endpoints (the secret is shown once, on creation),
// their deliveries, and redelivery of dead-lettered ones.
import { actorOf } from '../../auth/principal.js';
import { NotFoundFailure, UserFailure, builder, unwrap } from '../builder.js';
import { DELIVERY_STATUSES, type WebhookDeliveryRow, type WebhookEndpoint } from '../../webhooks/store.js';
import { WEBHOOK_EVENT_TYPES } from '../../webhooks/validation.js';

const WebhookRef = builder.objectRef<WebhookEndpoint>('Webhook').implement({
  description: 'An endpoint that receives the events of this tenant\'s runs, as signed EventEnvelopes (docs/protocol.md, Webhooks).',
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    eventTypes: t.exposeStringList('eventTypes', { description: `Short event types it receives, or ["*"] for all: ${WEBHOOK_EVENT_TYPES.join(', ')}.` }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'pending (due or waiting for its next attempt), delivered (the receiver answered 2xx), failed (could not be attempted), dead_lettered (every attempt failed).',
  values: DELIVERY_STATUSES,
});

const DestinationEnum = builder.enumType('WebhookDestination', {
  description: 'webhook: an endpoint created with createWebhook; stepflow: STEPFLOW_EVENTS_URL (outcomes of envelope runs).',
  values: ['webhook', 'stepflow'] as const,
});

const WebhookDeliveryRef = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description: 'One event on its way to one destination. The id is sent on every attempt (Synapse-Delivery-Id).',
  fields: (t) => ({
    id: t.exposeID('id'),
    destination: t.field({ type: DestinationEnum, resolve: (d) => d.destination }),
    webhookId: t.exposeID('webhookId', { nullable: true, description: 'Null for Stepflow deliveries.' }),
    runId: t.exposeID('runId'),
    eventSeq: t.exposeInt('eventSeq', { description: 'The sequence number of the run event it carries.' }),
    eventType: t.exposeString('eventType', { description: 'The type of the envelope sent.' }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts', { description: 'Attempts made so far (the number of the last one).' }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, description: 'When the next attempt is due; null once it is no longer pending.', resolve: (d) => (d.status === 'pending' ? d.nextAttemptAt : null) }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    lastStatus: t.exposeInt('lastStatus', { nullable: true, description: 'HTTP status of the last answer (null after a network error or timeout).' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'What went wrong last (at most 512 characters of the answer).' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface CreatedWebhook {
  webhook: WebhookEndpoint;
  secret: string;
}

const CreateWebhookPayload = builder.objectRef<CreatedWebhook>('CreateWebhookPayload').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, resolve: (p) => p.webhook }),
    secret: t.exposeString('secret', { description: 'The signing secret. Shown only here: store it now.' }),
  }),
});

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'An absolute http:// or https:// URL, at most 2 KiB.' }),
    eventTypes: t.stringList({ required: true, description: 'Short event types (succeeded, failed, …) or ["*"] for every type.' }),
    secret: t.string({ description: '16..256 printable ASCII characters; when absent, 32 random bytes (base64url) are generated.' }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [WebhookRef],
    description: 'This tenant\'s webhook endpoints, oldest first (at most 50). Secrets are never listed.',
    resolve: (_root, _args, ctx) => ctx.webhooks.list(ctx.principal.tenant),
  }),
  webhookDeliveries: t.field({
    type: [WebhookDeliveryRef],
    description: 'Deliveries, newest first: of one webhook, or all of this tenant\'s (Stepflow\'s included). `first` defaults to 50 and is clamped to 1..200; `before` (a delivery id) pages on.',
    args: {
      webhookId: t.arg.id(),
      status: t.arg({ type: DeliveryStatusEnum }),
      first: t.arg.int(),
      before: t.arg.id(),
    },
    resolve: (_root, args, ctx) =>
      ctx.webhooks.deliveries(ctx.principal.tenant, {
        webhookId: args.webhookId === null || args.webhookId === undefined ? null : String(args.webhookId),
        status: args.status ?? null,
        first: Math.min(200, Math.max(1, args.first ?? 50)),
        before: args.before === null || args.before === undefined ? null : String(args.before),
      }),
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: CreateWebhookPayload,
    description: 'Creates a webhook endpoint (at most 50 per tenant). Errors: invalid_url, invalid_event_types, invalid_secret, too_many_webhooks.',
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    errors: { types: [UserFailure], directResult: true },
    resolve: async (_root, { input }, ctx) => {
      const created = unwrap(await ctx.webhooks.create(ctx.principal.tenant, input));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'webhook.create', target: created.webhook.id, detail: { url: created.webhook.url, eventTypes: created.webhook.eventTypes } });
      return created;
    },
  }),
  deleteWebhook: t.field({
    type: 'ID',
    description: 'Deletes a webhook endpoint and its deliveries (pending ones are not sent).',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundFailure], dataField: { name: 'id' } },
    resolve: async (_root, { id }, ctx) => {
      const removed = unwrap(await ctx.webhooks.remove(ctx.principal.tenant, String(id)));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'webhook.delete', target: removed.id, detail: {} });
      return removed.id;
    },
  }),
  redeliverWebhookDelivery: t.field({
    type: WebhookDeliveryRef,
    description: 'Sends a dead-lettered or failed delivery again: same delivery id, attempts start again at 1, due now. Errors: not_found, not_redeliverable.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [UserFailure, NotFoundFailure], dataField: { name: 'delivery' } },
    resolve: async (_root, { id }, ctx) => {
      const delivery = unwrap(await ctx.webhooks.redeliver(ctx.principal.tenant, String(id)));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'webhook.redeliver', target: delivery.id, detail: { runId: delivery.runId } });
      return delivery;
    },
  }),
}));
