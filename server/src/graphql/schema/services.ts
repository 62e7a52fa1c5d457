// Services in GraphQL: the catalogue Axons announce over MQTT.
import { builder } from '../builder.js';
import type { ServiceRow } from '../../services/catalogue.js';
import { SERVICE_STATUSES } from '../../protocol/index.js';
import { boundedQueue, iterate, LIVE_LIMITS, SLOW_SUBSCRIBER_CLOSE_CODE } from '../../events/live.js';

export const ServiceStatusEnum = builder.enumType('ServiceStatus', {
  description: 'online, warning and error are reported by the Axon; offline once its ttl passes without a snapshot.',
  values: SERVICE_STATUSES,
});

type ServiceActionShape = ServiceRow['actions'][number];

const ServiceAction = builder.objectRef<ServiceActionShape>('ServiceAction').implement({
  description: 'An action a service declares; trigger it with triggerAction.',
  fields: (t) => ({
    id: t.exposeString('id'),
    label: t.exposeString('label'),
    style: t.exposeString('style', { nullable: true }),
    confirm: t.boolean({ description: 'Whether the button asks for confirmation.', resolve: (a) => a.confirm === true || typeof a.confirm === 'string' }),
    confirmMessage: t.string({ nullable: true, description: 'The confirmation prompt, when the Axon gave one.', resolve: (a) => (typeof a.confirm === 'string' ? a.confirm : null) }),
  }),
});

export const ServiceRef = builder.objectRef<ServiceRow>('Service').implement({
  description: 'An Axon as it last announced itself.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    status: t.field({ type: ServiceStatusEnum, resolve: (s) => s.status }),
    ttl: t.exposeInt('ttl', { description: 'Seconds between snapshots before the service counts as offline.' }),
    lastSeen: t.expose('lastSeen', { type: 'DateTime' }),
    offlineSince: t.expose('offlineSince', { type: 'DateTime', nullable: true }),
    shape: t.exposeString('shape', { description: 'v1 (Synapse discovery v1) or mvp (widgets and top-level actions).' }),
    actions: t.field({ type: [ServiceAction], resolve: (s) => s.actions }),
    runners: t.stringList({ description: 'Registry definition kinds this Axon runs (command, prompt).', resolve: (s) => s.runners }),
    snapshot: t.field({ type: 'JSON', description: 'The last snapshot as received (without auth_token).', resolve: (s) => s.snapshot }),
  }),
});

builder.queryFields((t) => ({
  services: t.field({
    type: [ServiceRef],
    args: { status: t.arg({ type: ServiceStatusEnum }) },
    resolve: (_root, args, ctx) => ctx.catalogue.list(ctx.principal.tenant, args.status),
  }),
  service: t.field({
    type: ServiceRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.catalogue.get(ctx.principal.tenant, String(args.id)),
  }),
}));

builder.subscriptionFields((t) => ({
  serviceUpdated: t.field({
    type: ServiceRef,
    description: 'A service each time it comes online, changes its snapshot or status, or goes offline.',
    subscribe: (_root, _args, ctx) => {
      const queue = boundedQueue<ServiceRow>(LIVE_LIMITS.maxQueuedItems, () => ctx.closeConnection?.(SLOW_SUBSCRIBER_CLOSE_CODE, 'subscriber too slow'));
      queue.attach(ctx.live.onService((service) => service.tenant === ctx.principal.tenant && queue.push(service)));
      return iterate(queue);
    },
    resolve: (service) => service,
  }),
}));
