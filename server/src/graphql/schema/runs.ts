// Runs in GraphQL: triggering service actions and registry definitions, and
// reading runs and their event logs back.
import { GraphQLError } from 'graphql';
import { actorOf, callerIdentity } from '../../auth/principal.js';
import { ConflictFailure, NotFoundFailure, UnavailableFailure, UserFailure, builder, unwrap } from '../builder.js';
import { parseDefinitionId } from '../../registry/registry.js';
import type { RunEventRow, RunRow } from '../../runs/events.js';
import { validateTrigger } from '../../runs/trigger-input.js';
import type { TriggerMeta } from '../../runs/service.js';
import { isRunState, isTerminal, RUN_STATES, type RunState } from '../../protocol/index.js';
import type { GatewayContext } from '../context.js';
import { boundedQueue, iterate, LIVE_LIMITS, SLOW_SUBSCRIBER_CLOSE_CODE } from '../../events/live.js';
import { runEventStream } from '../../events/run-stream.js';

export const RunStateEnum = builder.enumType('RunState', {
  description: 'requested → dispatched → accepted → running → one terminal state (succeeded, failed, rejected, cancelled, timed_out, lost, expired).',
  values: RUN_STATES,
});

export const RunEventRef = builder.objectRef<RunEventRow>('RunEvent').implement({
  description: 'One entry of a run\'s event log.',
  fields: (t) => ({
    seq: t.exposeInt('seq', { description: 'Per-run sequence number: 1, 2, 3, …' }),
    id: t.exposeString('eventId', { description: 'The event id, unique per source.' }),
    source: t.exposeString('source'),
    type: t.exposeString('type'),
    time: t.expose('time', { type: 'DateTime' }),
    state: t.field({ type: RunStateEnum, description: 'The run\'s state after this event.', resolve: (e) => e.state as RunState }),
    reason: t.exposeString('reason', { nullable: true }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.data }),
    envelope: t.field({ type: 'JSON', description: 'The whole EventEnvelope.', resolve: (e) => e.envelope }),
  }),
});

export const RunRef = builder.objectRef<RunRow>('Run').implement({
  description: 'One triggered action.',
  fields: (t) => ({
    id: t.exposeID('id'),
    serviceId: t.exposeString('serviceId'),
    actionId: t.exposeString('actionId'),
    definitionId: t.field({ type: 'ID', nullable: true, resolve: (r) => (r.definitionId === null ? null : String(r.definitionId)) }),
    definitionVersion: t.exposeInt('definitionVersion', { nullable: true }),
    state: t.field({ type: RunStateEnum, resolve: (r) => r.state as RunState }),
    reason: t.exposeString('reason', { nullable: true }),
    cancelRequested: t.exposeBoolean('cancelRequested', { description: 'cancelRun was called; the run ends cancelled when the Axon confirms, or after its heartbeat timeout.' }),
    input: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.input }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.output }),
    error: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.error }),
    commandId: t.exposeString('commandId'),
    traceId: t.exposeString('traceId'),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    origin: t.exposeString('origin', { description: 'graphql, rest or envelope.' }),
    heartbeatTimeout: t.exposeInt('heartbeatTimeoutS', { description: 'Seconds without an event before the run times out.' }),
    statusTtl: t.exposeInt('statusTtlS', { description: 'Seconds the run\'s status stays queryable after it ends.' }),
    deadline: t.expose('deadline', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    dispatchedAt: t.expose('dispatchedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    events: t.field({
      type: [RunEventRef],
      description: 'The event log after sequence `after`, oldest first (at most 500 at a time).',
      args: { after: t.arg.int({ defaultValue: 0 }), first: t.arg.int({ defaultValue: 100 }) },
      resolve: (r, args, ctx) => ctx.runs.events(r.id, Math.max(0, args.after ?? 0), Math.min(500, Math.max(1, args.first ?? 100))),
    }),
  }),
});

interface TriggerPayloadShape {
  run: RunRow;
  replayed: boolean;
}

const TriggerPayload = builder.objectRef<TriggerPayloadShape>('TriggerPayload').implement({
  description: 'The run a trigger created (or, for a repeated idempotency key, the run it created before).',
  fields: (t) => ({
    run: t.field({ type: RunRef, resolve: (p) => p.run }),
    replayed: t.exposeBoolean('replayed', { description: 'True when the idempotency key named an earlier, identical request: no new command was sent.' }),
    heartbeatTimeout: t.int({ resolve: (p) => p.run.heartbeatTimeoutS }),
    statusTtl: t.int({ resolve: (p) => p.run.statusTtlS }),
  }),
});

const TriggerActionInput = builder.inputType('TriggerActionInput', {
  fields: (t) => ({
    serviceId: t.string({ required: true }),
    actionId: t.string({ required: true }),
    input: t.field({ type: 'JSON', description: 'Passed to the Axon as parameters.input (at most ~250 KiB).' }),
    idempotencyKey: t.string({ description: 'At most 255 characters; the same key and request within 24 hours returns the same run.' }),
    wait: t.int({ description: 'Milliseconds (0..30000) to wait for a terminal state before answering.' }),
    deadline: t.field({ type: 'DateTime', description: 'The Axon must not start the command after this time.' }),
  }),
});

const RunActionDefinitionInput = builder.inputType('RunActionDefinitionInput', {
  fields: (t) => ({
    definitionId: t.id({ required: true }),
    serviceId: t.string({ required: true, description: 'An online service that declares the definition\'s kind in its runners.' }),
    input: t.field({ type: 'JSON' }),
    idempotencyKey: t.string(),
    wait: t.int(),
    deadline: t.field({ type: 'DateTime' }),
  }),
});

const triggerErrors = { types: [UserFailure, NotFoundFailure, ConflictFailure, UnavailableFailure], directResult: true as const };

async function runTrigger(ctx: GatewayContext, raw: Record<string, unknown>, meta: TriggerMeta): Promise<TriggerPayloadShape> {
  const req = unwrap(validateTrigger(raw, Date.now()));
  const outcome = unwrap(await ctx.runs.trigger(ctx.principal.tenant, req, meta));
  const run = await ctx.runs.waitForTerminal(outcome.run, req.waitMs);
  return { run, replayed: outcome.replayed };
}

builder.mutationFields((t) => ({
  cancelRun: t.field({
    type: RunRef,
    description: 'Asks the Axon to cancel a run (a synapse.run.cancel command). Calling it again sends nothing more.',
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [UserFailure, NotFoundFailure], dataField: { name: 'run' } },
    resolve: async (_root, args, ctx) => unwrap(await ctx.runs.cancel(ctx.principal.tenant, String(args.id), { issuedBy: 'graphql', actor: actorOf(ctx.principal) })),
  }),
  triggerAction: t.field({
    type: TriggerPayload,
    description: 'Triggers an action a service declares. The run, its first event and the command are committed together; the command is then published on {prefix}/command/{serviceId}.',
    args: { input: t.arg({ type: TriggerActionInput, required: true }) },
    errors: triggerErrors,
    resolve: (_root, { input }, ctx) => runTrigger(ctx, input as Record<string, unknown>, { origin: 'graphql', issuedBy: 'graphql', ...callerIdentity(ctx.principal) }),
  }),
  runActionDefinition: t.field({
    type: TriggerPayload,
    description: 'Runs a registry definition on a service whose Axon declares the definition\'s kind in `runners`.',
    args: { input: t.arg({ type: RunActionDefinitionInput, required: true }) },
    errors: triggerErrors,
    resolve: async (_root, { input }, ctx) => {
      const id = parseDefinitionId(input.definitionId);
      const definition = id === null ? null : await ctx.registry.get(ctx.principal.tenant, id);
      if (!definition) throw new NotFoundFailure('unknown_definition', 'definitionId', 'no action definition has this id');
      if (!definition.enabled) throw new UnavailableFailure('definition_disabled', 'definitionId', 'this definition is disabled; enable it first');
      const raw = { ...input, actionId: `definition-${definition.id}` } as Record<string, unknown>;
      return runTrigger(ctx, raw, {
        origin: 'graphql',
        issuedBy: 'graphql',
        ...callerIdentity(ctx.principal),
        definition: { id: definition.id, kind: definition.kind, spec: definition.spec as unknown as Record<string, unknown>, version: definition.version },
      });
    },
  }),
}));

interface RunConnectionShape {
  items: RunRow[];
  hasNextPage: boolean;
}

const RunConnection = builder.objectRef<RunConnectionShape>('RunConnection').implement({
  fields: (t) => ({
    nodes: t.field({ type: [RunRef], resolve: (c) => c.items }),
    edges: t.field({
      type: [builder.objectRef<RunRow>('RunEdge').implement({ fields: (e) => ({ node: e.field({ type: RunRef, resolve: (r) => r }), cursor: e.exposeString('id') }) })],
      resolve: (c) => c.items,
    }),
    pageInfo: t.field({
      type: builder.objectRef<RunConnectionShape>('RunPageInfo').implement({
        fields: (p) => ({
          hasNextPage: p.exposeBoolean('hasNextPage'),
          endCursor: p.string({ nullable: true, resolve: (c) => c.items.at(-1)?.id ?? null }),
        }),
      }),
      resolve: (c) => c,
    }),
  }),
});

builder.queryFields((t) => ({
  runs: t.field({
    type: RunConnection,
    description: 'Runs, newest first. `first` defaults to 50 and is clamped to 1..200.',
    args: { first: t.arg.int(), after: t.arg.string(), serviceId: t.arg.string(), status: t.arg({ type: RunStateEnum }) },
    resolve: (_root, args, ctx) => {
      if (args.after && !/^[0-9a-f-]{36}$/.test(args.after)) {
        throw new GraphQLError('after is not a cursor of runs', { extensions: { code: 'invalid_cursor', field: 'after' } });
      }
      const first = Math.min(200, Math.max(1, args.first ?? 50));
      return ctx.runs.list(ctx.principal.tenant, { first, afterId: args.after ?? null, serviceId: args.serviceId ?? null, status: args.status ?? null });
    },
  }),
  run: t.field({
    type: RunRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.runs.get(ctx.principal.tenant, String(args.id)),
  }),
}));

/** runEventStream (events/run-stream.ts) over this gateway's database and live feed, with a bounded queue. */
async function* runEventsOf(ctx: GatewayContext, runId: string, after: number): AsyncGenerator<RunEventRow> {
  const run = await ctx.runs.get(ctx.principal.tenant, runId);
  if (!run) throw new GraphQLError('no such run', { extensions: { code: 'not_found', field: 'runId' } });
  const queue = boundedQueue<RunEventRow>(LIVE_LIMITS.maxQueuedItems, () => ctx.closeConnection?.(SLOW_SUBSCRIBER_CLOSE_CODE, 'subscriber too slow'));
  queue.attach(ctx.live.onRunEvent(runId, (event) => queue.push(event)));
  try {
    yield* runEventStream(
      {
        eventsAfter: (last, limit) => ctx.runs.events(runId, last, limit),
        runIsTerminal: async () => {
          const state = (await ctx.runs.get(ctx.principal.tenant, runId))?.state;
          return state !== undefined && isRunState(state) && isTerminal(state);
        },
        next: async () => queue.take() ?? (await queue.next()),
      },
      after,
    );
  } finally {
    queue.close();
  }
}

builder.subscriptionFields((t) => ({
  runEvents: t.field({
    type: RunEventRef,
    description: 'A run\'s events with sequence > `after` (default 0): stored ones first, then live ones, with no gap and no duplicate. Ends after the event that makes the run terminal. Reconnect with `after` = the last `seq` received to miss nothing.',
    args: { runId: t.arg.id({ required: true }), after: t.arg.int() },
    subscribe: (_root, args, ctx) => runEventsOf(ctx, String(args.runId), Math.max(0, args.after ?? 0)),
    resolve: (event) => event,
  }),
  runUpdated: t.field({
    type: RunRef,
    description: 'A run each time its state changes; filter by service and by the new state.',
    args: { serviceId: t.arg.string(), status: t.arg({ type: RunStateEnum }) },
    subscribe: (_root, args, ctx) => {
      const queue = boundedQueue<RunRow>(LIVE_LIMITS.maxQueuedItems, () => ctx.closeConnection?.(SLOW_SUBSCRIBER_CLOSE_CODE, 'subscriber too slow'));
      queue.attach(
        ctx.live.onRun((run) => {
          if (run.tenant !== ctx.principal.tenant) return;
          if (args.serviceId && run.serviceId !== args.serviceId) return;
          if (args.status && run.state !== args.status) return;
          queue.push(run);
        }),
      );
      return iterate(queue);
    },
    resolve: (run) => run,
  }),
}));
