// Guards every root field of the schema with the scopes that may use it. The
// table below is the whole policy: building the schema fails if a root field
// has no entry, so a new field cannot ship unguarded. Subscriptions also end
// with a `key_revoked` error when their key is revoked or expires.
import { type GraphQLFieldConfig, type GraphQLFieldResolver, GraphQLError, type GraphQLSchema, defaultFieldResolver } from 'graphql';
import { hasAnyScope, type Principal } from '../auth/principal.js';
import type { Scope } from '../auth/scopes.js';
import type { AccessControl } from '../auth/access.js';

type RootType = 'Query' | 'Mutation' | 'Subscription';

/** The scopes (any one of them) each root field needs. */
export const ROOT_FIELD_SCOPES: Record<RootType, Record<string, readonly Scope[]>> = {
  Query: {
    actionDefinitions: ['definitions:read'],
    actionDefinition: ['definitions:read'],
    actionConfig: ['definitions:read'],
    availableActions: ['definitions:read'],
    services: ['runs:read', 'actions:trigger'],
    service: ['runs:read', 'actions:trigger'],
    runs: ['runs:read'],
    run: ['runs:read'],
    webhooks: ['config:write'],
    webhookDeliveries: ['config:write'],
    apiKeys: ['keys:admin'],
    agentCredentials: ['keys:admin'],
    auditLog: ['keys:admin'],
    viewer: ['definitions:read', 'definitions:write', 'actions:trigger', 'runs:read', 'runs:cancel', 'config:write', 'keys:admin'],
  },
  Mutation: {
    createActionDefinition: ['definitions:write'],
    updateActionDefinition: ['definitions:write'],
    deleteActionDefinition: ['definitions:write'],
    triggerAction: ['actions:trigger'],
    runActionDefinition: ['actions:trigger'],
    cancelRun: ['runs:cancel'],
    setActionConfig: ['config:write'],
    createWebhook: ['config:write'],
    deleteWebhook: ['config:write'],
    redeliverWebhookDelivery: ['config:write'],
    createApiKey: ['keys:admin'],
    revokeApiKey: ['keys:admin'],
    createAgentCredential: ['keys:admin'],
    revokeAgentCredential: ['keys:admin'],
  },
  Subscription: {
    runEvents: ['runs:read'],
    runUpdated: ['runs:read'],
    serviceUpdated: ['runs:read', 'actions:trigger'],
  },
};

/** What the guard needs from the context. */
export interface AuthorizedContext {
  principal: Principal;
  access: Pick<AccessControl, 'watch'>;
}

export function forbidden(scopes: readonly Scope[]): GraphQLError {
  return new GraphQLError(`forbidden: this API key lacks the ${scopes.join(' or ')} scope`, {
    extensions: { code: 'forbidden', requiredScopes: [...scopes], http: { status: 403 } },
  });
}

const ENDED = Symbol('subscription key ended');
interface Ended {
  [ENDED]: 'key_revoked' | 'key_expired';
}
const isEnded = (value: unknown): value is Ended => typeof value === 'object' && value !== null && ENDED in value;

/**
 * Ends `source` with one `Ended` item when the principal's key is revoked or
 * expires. One promise per item and no race: a revocation settles the pending
 * `next` itself (this wrapper sits on every subscriber's path for every event).
 */
function endOnRevocation(source: AsyncIterable<unknown>, ctx: AuthorizedContext): AsyncIterableIterator<unknown> {
  const iterator = source[Symbol.asyncIterator]();
  let reason: Ended[typeof ENDED] | null = null;
  let pending: ((result: IteratorResult<unknown>) => void) | null = null;
  let finished = false;
  const finish = async (): Promise<IteratorResult<unknown>> => {
    unwatch();
    if (!finished) {
      finished = true;
      // Not awaited: a generator parked on a live queue settles its return later.
      void Promise.resolve(iterator.return?.()).catch(() => {});
    }
    return { value: undefined, done: true };
  };
  const ended = (): IteratorResult<unknown> | null => {
    if (reason === null) return null;
    const value: Ended = { [ENDED]: reason };
    reason = null;
    void finish();
    return { value, done: false };
  };
  const unwatch = ctx.access.watch(ctx.principal, (r) => {
    reason = r;
    const settle = pending;
    pending = null;
    if (settle) settle(ended() ?? { value: undefined, done: true });
  });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (finished) return Promise.resolve({ value: undefined, done: true });
      const early = ended();
      if (early) return Promise.resolve(early);
      return new Promise<IteratorResult<unknown>>((resolve, reject) => {
        pending = resolve;
        iterator.next().then(
          (result) => {
            // Revoked meanwhile: that settled this call already; the item is dropped with the stream.
            if (pending !== resolve) return;
            pending = null;
            if (result.done) unwatch();
            resolve(result);
          },
          (error: unknown) => {
            if (pending !== resolve) return;
            pending = null;
            reject(error);
          },
        );
      });
    },
    return: finish,
    async throw(error: unknown) {
      unwatch();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
}

function guardField(typeName: RootType, fieldName: string, field: GraphQLFieldConfig<unknown, AuthorizedContext> & { subscribe?: GraphQLFieldResolver<unknown, AuthorizedContext> }): void {
  const scopes = ROOT_FIELD_SCOPES[typeName][fieldName];
  if (!scopes) throw new Error(`${typeName}.${fieldName} has no entry in ROOT_FIELD_SCOPES: every root field must name its scopes`);
  const check = (ctx: AuthorizedContext) => {
    if (!hasAnyScope(ctx.principal, scopes)) throw forbidden(scopes);
  };
  const resolve = field.resolve ?? defaultFieldResolver;
  if (typeName === 'Subscription') {
    const subscribe = field.subscribe;
    if (!subscribe) throw new Error(`Subscription.${fieldName} has no subscribe`);
    field.subscribe = async (root, args, ctx, info) => {
      check(ctx);
      const source = await subscribe(root, args, ctx, info);
      if (source instanceof GraphQLError || !source || typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') return source;
      return endOnRevocation(source as AsyncIterable<unknown>, ctx);
    };
    field.resolve = (value, args, ctx, info) => {
      if (isEnded(value)) {
        const why = value[ENDED];
        throw new GraphQLError(why === 'key_expired' ? 'the API key has expired' : 'the API key was revoked', { extensions: { code: why } });
      }
      return resolve(value, args, ctx, info);
    };
    return;
  }
  field.resolve = (root, args, ctx, info) => {
    check(ctx);
    return resolve(root, args, ctx, info);
  };
}

/** Guards the root fields of `schema` in place and returns it. */
export function guardSchema(schema: GraphQLSchema): GraphQLSchema {
  const roots: Array<[RootType, ReturnType<GraphQLSchema['getQueryType']>]> = [
    ['Query', schema.getQueryType()],
    ['Mutation', schema.getMutationType()],
    ['Subscription', schema.getSubscriptionType()],
  ];
  for (const [typeName, type] of roots) {
    if (!type) continue;
    for (const [name, field] of Object.entries(type.getFields())) guardField(typeName, name, field as never);
    const known = Object.keys(ROOT_FIELD_SCOPES[typeName]);
    for (const name of known) if (!type.getFields()[name]) throw new Error(`ROOT_FIELD_SCOPES names ${typeName}.${name}, which the schema does not have`);
  }
  return schema;
}
