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
import { useSharedSubscriptions } from './shared-subscriptions.js';

interface Ctx {
  tenant: string;
  scopes: string[];
  /** What this subscriber's root field streams. */
  source: () => AsyncIterable<unknown>;
}

function fixture() {
  const calls = { label: 0, returned: 0 };
  const Event = new GraphQLObjectType<{ seq: number }, Ctx>({
    name: 'Event',
    fields: {
      seq: { type: GraphQLInt },
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
          resolve: (event: unknown) => event,
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
      }),
    ],
  });
  const document = parse('subscription S($channel: String!) { events(channel: $channel) { seq label } }');
  const start = async (ctx: Ctx, channel = 'c1') => {
    const { subscribe: run, schema: enveloped } = getEnveloped();
    return run({ schema: enveloped, document, operationName: 'S', variableValues: { channel }, contextValue: ctx }) as Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult>;
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
  return { calls, start, streamOf };
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
