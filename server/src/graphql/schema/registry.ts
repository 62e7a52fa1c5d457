// The action registry in GraphQL: definitions, their typed specs, a Relay
// connection, and mutations whose failures are typed results.
import { actorOf } from '../../auth/principal.js';
import { GraphQLError } from 'graphql';
import { NotFoundFailure, UserFailure, builder, unwrap } from '../builder.js';
import { type ActionDefinition, parseDefinitionId } from '../../registry/registry.js';
import { ACTION_KINDS, type CommandSpec, type PromptSpec } from '../../registry/validation.js';

const ActionKindEnum = builder.enumType('ActionKind', {
  description: 'What a definition runs: an agent prompt or a shell command.',
  values: ACTION_KINDS,
});

const PromptSpecRef = builder.objectRef<PromptSpec>('PromptSpec').implement({
  description: 'A prompt run by a coding agent.',
  fields: (t) => ({
    prompt: t.exposeString('prompt'),
    agent: t.exposeString('agent'),
    model: t.exposeString('model'),
    reasoning: t.exposeString('reasoning', { description: 'low, medium, high or xhigh.' }),
    timeoutS: t.float({ description: 'Seconds (stored as `timeout_s`), 5..300.', resolve: (s) => s.timeout_s }),
  }),
});

const CommandSpecRef = builder.objectRef<CommandSpec>('CommandSpec').implement({
  description: 'A shell command run by an Axon under its repository root.',
  fields: (t) => ({
    cmd: t.exposeString('cmd'),
    shell: t.exposeString('shell'),
    cwd: t.exposeString('cwd', { description: 'Relative to the repository root.' }),
    timeoutS: t.float({ description: 'Seconds (stored as `timeout_s`), 1..3600.', resolve: (s) => s.timeout_s }),
  }),
});

const ActionSpecUnion = builder.unionType('ActionSpec', {
  types: [PromptSpecRef, CommandSpecRef],
  resolveType: (spec) => ('prompt' in spec ? PromptSpecRef : CommandSpecRef),
});

export const ActionDefinitionRef = builder.objectRef<ActionDefinition>('ActionDefinition').implement({
  description: 'A reusable action definition of the registry.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.exposeString('tenant'),
    title: t.exposeString('title'),
    kind: t.field({ type: ActionKindEnum, resolve: (d) => d.kind }),
    spec: t.field({ type: ActionSpecUnion, resolve: (d) => d.spec }),
    specJson: t.field({ type: 'JSON', description: 'The stored spec as JSON (snake_case keys).', resolve: (d) => d.spec }),
    enabled: t.exposeBoolean('enabled'),
    version: t.exposeInt('version', { description: '1 on create, +1 on every update.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const PageInfo = builder
  .objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo')
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      hasPreviousPage: t.boolean({ resolve: () => false }),
      startCursor: t.string({ nullable: true, resolve: () => null }),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

// A page keeps the definitions as the registry returned them; edges and
// cursors are built only when a query selects them (most select `nodes`).
interface Connection {
  items: ActionDefinition[];
  hasNextPage: boolean;
}
const ActionDefinitionEdge = builder.objectRef<ActionDefinition>('ActionDefinitionEdge').implement({
  fields: (t) => ({
    node: t.field({ type: ActionDefinitionRef, resolve: (node) => node }),
    cursor: t.string({ resolve: (node) => encodeCursor(node.id) }),
  }),
});

const ActionDefinitionConnection = builder.objectRef<Connection>('ActionDefinitionConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [ActionDefinitionEdge], resolve: (c) => c.items }),
    nodes: t.field({ type: [ActionDefinitionRef], resolve: (c) => c.items }),
    pageInfo: t.field({
      type: PageInfo,
      resolve: (c) => {
        const last = c.items.at(-1);
        return { hasNextPage: c.hasNextPage, endCursor: last ? encodeCursor(last.id) : null };
      },
    }),
  }),
});

const CURSOR_PREFIX = 'ad:';
export const encodeCursor = (id: number) => Buffer.from(`${CURSOR_PREFIX}${id}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const id = text.startsWith(CURSOR_PREFIX) ? parseDefinitionId(text.slice(CURSOR_PREFIX.length)) : null;
  if (id === null) {
    throw new GraphQLError('after is not a cursor of actionDefinitions', { extensions: { code: 'invalid_cursor', field: 'after' } });
  }
  return id;
}

builder.queryFields((t) => ({
  actionDefinitions: t.field({
    type: ActionDefinitionConnection,
    description: 'Definitions, newest first. `first` defaults to 50 and is clamped to 1..200.',
    args: {
      first: t.arg.int(),
      after: t.arg.string(),
      kind: t.arg({ type: ActionKindEnum }),
      enabled: t.arg.boolean(),
    },
    resolve: async (_root, args, ctx) => {
      const afterId = args.after ? decodeCursor(args.after) : null;
      return ctx.registry.list(ctx.principal.tenant, { first: args.first, afterId, kind: args.kind, enabled: args.enabled });
    },
  }),
  actionDefinition: t.field({
    type: ActionDefinitionRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => {
      const id = parseDefinitionId(args.id);
      return id === null ? null : ctx.registry.get(ctx.principal.tenant, id);
    },
  }),
}));

const CreateInput = builder.inputType('CreateActionDefinitionInput', {
  fields: (t) => ({
    // Nullable on purpose: the gateway validates presence itself, so GraphQL and
    // REST answer a missing field with the same typed code (invalid_title, ...).
    title: t.string({ description: 'Required: non-blank, at most 200 characters, stored trimmed.' }),
    kind: t.string({ description: 'Required: "prompt" or "command".' }),
    spec: t.field({ type: 'JSON', description: 'Required: PromptSpec or CommandSpec keys (snake_case).' }),
    enabled: t.boolean({ description: 'Defaults to true.' }),
  }),
});

const UpdateInput = builder.inputType('UpdateActionDefinitionInput', {
  description: 'A partial update; `spec` is merged onto the stored spec (a key set to null returns to its default).',
  fields: (t) => ({
    title: t.string(),
    kind: t.string({ description: 'Must equal the stored kind; kinds never change.' }),
    spec: t.field({ type: 'JSON' }),
    enabled: t.boolean(),
  }),
});

const notFoundId = () => new NotFoundFailure('not_found', 'id', 'action definition not found');

builder.mutationFields((t) => ({
  createActionDefinition: t.field({
    type: ActionDefinitionRef,
    args: { input: t.arg({ type: CreateInput, required: true }) },
    errors: { types: [UserFailure], dataField: { name: 'actionDefinition' } },
    resolve: async (_root, { input }, ctx) => {
      const created = unwrap(await ctx.registry.create(ctx.principal.tenant, input));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'definition.create', target: String(created.id), detail: { title: created.title, via: 'graphql' } });
      return created;
    },
  }),
  updateActionDefinition: t.field({
    type: ActionDefinitionRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateInput, required: true }) },
    errors: { types: [UserFailure, NotFoundFailure], dataField: { name: 'actionDefinition' } },
    resolve: async (_root, { id, input }, ctx) => {
      const definitionId = parseDefinitionId(id);
      if (definitionId === null) throw notFoundId();
      const updated = unwrap(await ctx.registry.update(ctx.principal.tenant, definitionId, input));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'definition.update', target: String(updated.id), detail: { version: updated.version, via: 'graphql' } });
      return updated;
    },
  }),
  deleteActionDefinition: t.field({
    type: 'ID',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [NotFoundFailure], dataField: { name: 'id' } },
    resolve: async (_root, { id }, ctx) => {
      const definitionId = parseDefinitionId(id);
      if (definitionId === null) throw notFoundId();
      const removed = unwrap(await ctx.registry.remove(ctx.principal.tenant, definitionId));
      await ctx.audit.record({ tenant: ctx.principal.tenant, actor: actorOf(ctx.principal), action: 'definition.delete', target: String(removed.id), detail: { via: 'graphql' } });
      return removed.id;
    },
  }),
}));
