import { envelop, useEngine, useSchema } from '@envelop/core';
import {
  execute,
  type ExecutionResult,
  GraphQLError,
  GraphQLInt,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  parse,
  specifiedRules,
  subscribe,
  validate,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { createErrorMask } from './error-masking.js';
import { type SharedSubscriptionOptions, useSharedSubscriptions } from './shared-subscriptions.js';

interface Ctx {
  tenant: string;
  scopes: string[];
  /** What this subscriber's root field streams. */
  source: () => AsyncIterable<unknown>;
}

function fixture(options: SharedSubscriptionOptions = {}) {
  const calls = { label: 0, returned: 0 };
  const Event = new GraphQLObjectType<{ seq: number }, Ctx>({
    name: 'Event',
    fields: {
      seq: { type: GraphQLInt },
      channel: { type: GraphQLString },
      fails: {
        type: GraphQLString,
        resolve: () => {
          throw new Error('boom');
        },
      },
      must: { type: new GraphQLNonNull(GraphQLString), resolve: (event: { seq: number; must?: string }) => event.must ?? null },
      tag: { type: GraphQLString, args: { suffix: { type: GraphQLString } }, resolve: (event: { seq: number }, args: { suffix?: string | null }) => `${event.seq}${args.suffix ?? ''}` },
      label: {
        type: GraphQLString,
        resolve: (event, _args, ctx) => {
          calls.label++;
          return `${ctx.tenant}:${event.seq}`;
        },
      },
    },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt, resolve: () => 1 } } }),
    subscription: new GraphQLObjectType<unknown, Ctx>({
      name: 'Subscription',
      fields: {
        events: {
          type: Event,
          args: { channel: { type: new GraphQLNonNull(GraphQLString) } },
          subscribe: (_root, args: { channel: string }, ctx) => {
            if (args.channel === 'forbidden') throw new GraphQLError('forbidden', { extensions: { code: 'forbidden' } });
            return ctx.source();
          },
          // The root field's argument reaches the selection (a variable of another name must map to it).
          resolve: (event: unknown, args: { channel: string }) => ({ ...(event as object), channel: args.channel }),
        },
      },
    }),
  });
  const getEnveloped = envelop({
    plugins: [
      useEngine({ parse, validate, execute, subscribe, specifiedRules }),
      useSchema(schema),
      useSharedSubscriptions((context) => {
        const ctx = context as Partial<Ctx>;
        return ctx.tenant ? { tenant: ctx.tenant, scopes: ctx.scopes ?? [] } : null;
      }, options),
    ],
  });
  const defaultDocument = parse('subscription S($channel: String!) { events(channel: $channel) { seq label } }');
  const start = async (ctx: Ctx, channel = 'c1', document = defaultDocument, variables: Record<string, unknown> = {}) => {
    const { subscribe: run, schema: enveloped } = getEnveloped();
    return run({ schema: enveloped, document, operationName: 'S', variableValues: { channel, ...variables }, contextValue: ctx }) as Promise<
      AsyncIterableIterator<ExecutionResult> | ExecutionResult
    >;
  };
  /** A source yielding these (shared) payload objects, counting its return. */
  const streamOf = (payloads: object[]) => () =>
    (async function* () {
      try {
        yield* payloads;
      } finally {
        calls.returned++;
      }
    })();
  return { calls, start, streamOf, schema };
}

async function drain(stream: AsyncIterableIterator<ExecutionResult> | ExecutionResult): Promise<ExecutionResult[]> {
  if (!(Symbol.asyncIterator in stream)) throw new Error(`expected a stream, got ${JSON.stringify(stream)}`);
  const results: ExecutionResult[] = [];
  for await (const result of stream) results.push(result);
  return results;
}

describe('useSharedSubscriptions', () => {
  it('executes an event once per tenant and scopes: same-scope subscribers get the same result', async () => {
    const { calls, start, streamOf } = fixture();
    const events = [{ seq: 1 }, { seq: 2 }, { seq: 3 }];
    const [a, b, c] = await Promise.all([
      start({ tenant: 't1', scopes: ['runs:read'], source: streamOf(events) }).then(drain),
      start({ tenant: 't1', scopes: ['runs:read'], source: streamOf(events) }).then(drain),
      start({ tenant: 't2', scopes: ['runs:read'], source: streamOf(events) }).then(drain),
    ]);
    expect(a!.map((r) => r.data)).toEqual([1, 2, 3].map((seq) => ({ events: { seq, label: `t1:${seq}` } })));
    expect(c!.map((r) => r.data)).toEqual([1, 2, 3].map((seq) => ({ events: { seq, label: `t2:${seq}` } })));
    for (let i = 0; i < 3; i++) {
      expect(b![i]).toBe(a![i]);
      expect(c![i]).not.toBe(a![i]);
    }
    expect(calls.label).toBe(6);
  });

  // Events are executed by graphql-jit's compiled operation: results as graphql-js gives them, errors and nulls included.
  it.each([
    { name: 'fields and an alias', query: 'subscription S($channel: String!) { events(channel: $channel) { n: seq label } }', payload: { seq: 4 } },
    { name: '@include and @skip by variable', query: 'subscription S($channel: String!, $on: Boolean!) { events(channel: $channel) { seq @include(if: $on) label @skip(if: $on) } }', payload: { seq: 5 } },
    { name: 'a failing field', query: 'subscription S($channel: String!) { events(channel: $channel) { seq fails } }', payload: { seq: 6 } },
    { name: 'a null non-null field', query: 'subscription S($channel: String!) { events(channel: $channel) { seq must } }', payload: { seq: 7 } },
    { name: 'an argument from a variable of another name', query: 'subscription S($channel: String!, $sfx: String) { events(channel: $channel) { tag(suffix: $sfx) plain: tag } }', payload: { seq: 9 } },
    { name: 'a root argument from a variable of another name', query: 'subscription S($ch: String!) { events(channel: $ch) { seq channel } }', payload: { seq: 10 } },
    { name: 'a non-null field', query: 'subscription S($channel: String!) { events(channel: $channel) { must __typename } }', payload: { seq: 8, must: 'yes' } },
  ])('maps an event as graphql-js executes it: $name', async ({ query, payload }) => {
    const { start, streamOf, schema } = fixture();
    const document = parse(query);
    const ctx: Ctx = { tenant: 't1', scopes: [], source: streamOf([payload]) };
    const variables = { on: true, sfx: '!', ch: 'c2' };
    const [result] = await drain(await start(ctx, 'c1', document, variables));
    const expected = await execute({ schema, document, rootValue: payload, contextValue: ctx, operationName: 'S', variableValues: { channel: 'c1', ...variables } });
    expect(JSON.parse(JSON.stringify(result))).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it.each([{ compile: true }, { compile: false }])('masks an unexpected error in an event and at the stream\'s end, keeps typed ones (compile: $compile)', async ({ compile }) => {
    const heard: unknown[] = [];
    const { start } = fixture({ compile, maskError: createErrorMask((e) => heard.push(e)) });
    const document = parse('subscription S($channel: String!) { events(channel: $channel) { seq fails } }');
    const stream = await start(
      {
        tenant: 't1',
        scopes: [],
        source: () =>
          (async function* () {
            yield { seq: 1 };
            throw new Error('Failed query: select 1');
          })(),
      },
      'c1',
      document,
    );
    if (!(Symbol.asyncIterator in stream)) throw new Error('expected a stream');
    const first = (await stream.next()).value as ExecutionResult;
    expect(first.data).toEqual({ events: { seq: 1, fails: null } });
    expect(first.errors?.map((e) => [e.message, e.extensions.code, e.path])).toEqual([['Unexpected error.', 'INTERNAL_SERVER_ERROR', ['events', 'fails']]]);
    const end = await stream.next().then(
      () => null,
      (e: unknown) => e as GraphQLError,
    );
    expect([end?.message, end?.extensions.code]).toEqual(['Unexpected error.', 'INTERNAL_SERVER_ERROR']);
    expect(heard.map((e) => (e as Error).message)).toEqual(['boom', 'Failed query: select 1']);

    const typed = await start({
      tenant: 't1',
      scopes: [],
      source: () =>
        (async function* () {
          yield* [];
          throw new GraphQLError('subscriber too slow', { extensions: { code: 'subscriber_too_slow' } });
        })(),
    });
    if (!(Symbol.asyncIterator in typed)) throw new Error('expected a stream');
    const slow = await typed.next().then(
      () => null,
      (e: unknown) => e as GraphQLError,
    );
    expect([slow?.message, slow?.extensions.code]).toEqual(['subscriber too slow', 'subscriber_too_slow']);
  });

  it('does not share between different variables or scopes, nor for payloads each subscriber owns', async () => {
    const { calls, start, streamOf } = fixture();
    const events = [{ seq: 1 }];
    const results = await Promise.all([
      start({ tenant: 't1', scopes: ['runs:read'], source: streamOf(events) }, 'c1').then(drain),
      start({ tenant: 't1', scopes: ['runs:read'], source: streamOf(events) }, 'c2').then(drain),
      start({ tenant: 't1', scopes: ['runs:read', 'keys:admin'], source: streamOf(events) }, 'c1').then(drain),
      start({ tenant: 't1', scopes: ['runs:read'], source: streamOf([{ seq: 1 }]) }, 'c1').then(drain),
    ]);
    expect(results.map((r) => r[0]!.data)).toEqual(Array(4).fill({ events: { seq: 1, label: 't1:1' } }));
    expect(calls.label).toBe(4);
  });

  it('ends a stream whose source fails with the error located at the operation, its extensions kept', async () => {
    const { start } = fixture();
    const stream = await start({
      tenant: 't1',
      scopes: [],
      source: () =>
        (async function* () {
          yield { seq: 1 };
          throw new GraphQLError('subscriber too slow', { extensions: { code: 'subscriber_too_slow' } });
        })(),
    });
    if (!(Symbol.asyncIterator in stream)) throw new Error('expected a stream');
    expect((await stream.next()).value).toEqual({ data: { events: { seq: 1, label: 't1:1' } } });
    const error = await stream.next().then(
      () => null,
      (e: unknown) => e as GraphQLError,
    );
    expect(error).toBeInstanceOf(GraphQLError);
    expect(error!.message).toBe('subscriber too slow');
    expect(error!.extensions.code).toBe('subscriber_too_slow');
    expect(error!.locations).toEqual([{ line: 1, column: 1 }]);
  });

  it("answers a refused root field with errors and no stream, and return() detaches the subscriber's source", async () => {
    const { calls, start, streamOf } = fixture();
    const refused = await start({ tenant: 't1', scopes: [], source: streamOf([]) }, 'forbidden');
    expect(Symbol.asyncIterator in refused).toBe(false);
    expect((refused as ExecutionResult).errors?.map((e) => e.extensions.code)).toEqual(['forbidden']);

    const stream = await start({ tenant: 't1', scopes: [], source: streamOf([{ seq: 1 }, { seq: 2 }]) });
    if (!(Symbol.asyncIterator in stream)) throw new Error('expected a stream');
    await stream.next();
    expect(await stream.return!()).toEqual({ value: undefined, done: true });
    expect(calls.returned).toBe(1);
  });
});
