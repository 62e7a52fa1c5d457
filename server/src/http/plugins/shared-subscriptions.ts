// Guards the fan-out's cost: runs subscriptions (HTTP SSE and graphql-ws alike)
// with a lean subscribe in place of the executor's, which for every event and
// subscriber executed the selection set and wrapped the result in two more
// async iterators. Here each subscriber's source stream (the root field's
// subscribe: authorization, revocation, replay, its own bounded queue) is
// mapped by one iterator, and the execution of an event is shared by the
// subscribers with the same document, variables, tenant and scopes
// (graphql/shared-execution.ts), with the operation compiled once by
// graphql-jit (as queries and mutations are), not interpreted by graphql-js
// for every event. Errors keep the executor's shape: a failing source ends the
// stream with the error wrapped against the operation.
import {
  createSourceEventStream,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  getOperationAST,
  GraphQLError,
  type DocumentNode,
  type OperationDefinitionNode,
} from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { createExecutionMemo, type SharingScope, sharingKey } from '../../graphql/shared-execution.js';
import { type MaskError, maskResult } from './error-masking.js';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** What the executor does with an error of the source stream: the same error, located at the operation. */
function wrapSourceError(error: unknown, operation: OperationDefinitionNode | null | undefined): GraphQLError {
  const original = error instanceof Error ? error : new Error(String(error));
  return new GraphQLError(original.message, { originalError: original, nodes: operation ?? undefined });
}

/** Maps a subscriber's source events to results with one iterator (no generator, no per-event wrappers). */
function mapEvents(
  source: AsyncIterable<unknown>,
  toResult: (payload: unknown) => Result,
  operation: OperationDefinitionNode | null | undefined,
  mask: MaskError | undefined,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const onValue = (step: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
    if (step.done) return { value: undefined, done: true };
    const result = toResult(step.value);
    return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
  };
  const onError = (error: unknown): never => {
    const wrapped = wrapSourceError(error, operation);
    throw mask ? mask(wrapped) : wrapped;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => iterator.next().then(onValue, onError),
    return: async () => {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    throw: async (error: unknown) => {
      if (iterator.throw) await iterator.throw(error);
      throw error;
    },
  };
}

type EventExecutor = (payload: unknown, context: unknown, variables: Readonly<Record<string, unknown>> | null | undefined) => Result;

/**
 * An operation's event → result function, compiled once per document and
 * operation name (Yoga's parser cache hands out one document object per query
 * text; a dropped document takes its entries with it). What graphql-jit cannot
 * compile is executed by graphql-js, as before.
 */
function createEventExecutors() {
  const byDocument = new WeakMap<DocumentNode, Map<string, EventExecutor | null>>();
  return (args: ExecutionArgs): EventExecutor | null => {
    let byName = byDocument.get(args.document);
    if (!byName) byDocument.set(args.document, (byName = new Map()));
    const name = args.operationName ?? '';
    let executor = byName.get(name);
    if (executor === undefined) {
      const compiled = compileQuery(args.schema, args.document, args.operationName ?? undefined);
      executor = isCompiledQuery(compiled)
        ? (payload, context, variables) => compiled.query(payload, context, variables ?? {}) as Result
        : null;
      byName.set(name, executor);
    }
    return executor;
  };
}

export interface SharedSubscriptionOptions {
  /** Execute events with the operation compiled by graphql-jit (default true); false: graphql-js. */
  compile?: boolean;
  /** Masks unexpected errors in events' results and in a stream's end (error-masking.ts); none when absent. */
  maskError?: MaskError;
}

/**
 * `scopeOf` names what a subscriber's results may be shared under (its tenant
 * and scopes); null: this subscriber shares with nobody.
 */
export function useSharedSubscriptions(scopeOf: (context: unknown) => SharingScope | null, options: SharedSubscriptionOptions = {}): Plugin<Record<string, unknown>> {
  const memo = createExecutionMemo<Result>();
  const executorOf = options.compile === false ? () => null : createEventExecutors();
  const mask = options.maskError;
  const masked = (result: Result): Result => {
    if (!mask) return result;
    return result instanceof Promise ? result.then((r) => maskResult(r, mask)) : maskResult(result, mask);
  };
  const subscribe = (args: ExecutionArgs) => {
    const source = createSourceEventStream(args);
    const map = (stream: AsyncIterable<unknown> | ExecutionResult) => {
      if (!isAsyncIterable(stream)) return stream;
      const scope = scopeOf(args.contextValue);
      const key = scope && sharingKey({ document: args.document, operationName: args.operationName, variableValues: args.variableValues, scope });
      const compiled = executorOf(args);
      const run = compiled
        ? (payload: unknown): Result => masked(compiled(payload, args.contextValue, args.variableValues))
        : (payload: unknown): Result => masked(execute({ ...args, rootValue: payload }));
      const toResult = key === null ? run : (payload: unknown) => memo.get(payload, key, () => run(payload));
      return mapEvents(stream, toResult, getOperationAST(args.document, args.operationName), mask);
    };
    return source instanceof Promise ? source.then(map) : map(source);
  };
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as never);
    },
  };
}
