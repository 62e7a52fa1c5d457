import { Client, type Exchange, makeErrorResult, makeOperation, makeResult, type Operation, type OperationResult } from '@urql/core';
import { describe, expect, it } from 'vitest';
import { filter, make, merge, mergeMap, pipe, share, takeUntil } from 'wonka';
import { runEventsDocument, watchRun, type RunEvent } from './watch-run.js';

/** One subscription the fake server holds open; the test drives it. */
interface FakeStream {
  operation: Operation;
  variables: { runId: string; after: number | null };
  torndown: boolean;
  /** Sends an event (as the server would, in the `runEvents` field). */
  send(event: RunEvent): void;
  /** The socket dropped and graphql-ws gave up: a network error, then the stream ends. */
  drop(): void;
  /** The server refuses the subscription: GraphQL errors. */
  refuse(message: string): void;
  /** The server completes the subscription. */
  complete(): void;
}

/** An urql exchange standing in for the subscription transport. */
function fakeTransport() {
  const streams: FakeStream[] = [];
  const waiters: Array<() => void> = [];
  const exchange: Exchange =
    ({ client, forward }) =>
    (operations$) => {
      const shared = pipe(operations$, share);
      const subscriptions = pipe(
        shared,
        filter((op) => op.kind === 'subscription'),
        mergeMap((operation) =>
          pipe(
            make<OperationResult>((observer) => {
              const stream: FakeStream = {
                operation,
                variables: operation.variables as FakeStream['variables'],
                torndown: false,
                send: (event) => observer.next(makeResult(operation, { data: { runEvents: event } })),
                drop: () => {
                  observer.next(makeErrorResult(operation, new Error('socket closed')));
                  observer.complete();
                },
                refuse: (message) => observer.next(makeResult(operation, { errors: [{ message }] })),
                // As urql's subscriptionExchange does: a completed subscription is torn down.
                complete: () => {
                  client.reexecuteOperation(makeOperation('teardown', operation, operation.context));
                  observer.complete();
                },
              };
              streams.push(stream);
              for (const wake of waiters.splice(0)) wake();
              return () => {
                stream.torndown = true;
              };
            }),
            takeUntil(pipe(shared, filter((op) => op.kind === 'teardown' && op.key === operation.key))),
          ),
        ),
      );
      const rest = forward(pipe(shared, filter((op) => op.kind !== 'subscription')));
      return merge([subscriptions, rest]);
    };
  async function stream(index: number): Promise<FakeStream> {
    while (streams.length <= index) await new Promise<void>((resolve) => waiters.push(resolve));
    return streams[index]!;
  }
  return { exchange, streams, stream };
}

function setup() {
  const transport = fakeTransport();
  // Operations that reach fetch would fail loudly: only subscriptions are expected.
  const client = new Client({ url: 'http://gateway.invalid/graphql', exchanges: [transport.exchange] });
  return { client, ...transport };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));
const ev = (seq: number, state = 'running'): RunEvent => ({ seq, state, type: `event-${seq}` });

describe('watchRun', () => {
  it('subscribes to runEvents with the run id and no cursor', async () => {
    const { client, stream } = setup();
    const watch = watchRun(client, 'run-1', () => {});
    const first = await stream(0);
    expect(first.variables).toEqual({ runId: 'run-1', after: null });
    expect(first.operation.kind).toBe('subscription');
    expect(runEventsDocument()).toContain('runEvents(runId: $runId, after: $after) { seq type state reason time data }');
    watch.unsubscribe();
    expect(await watch.done).toBe('unsubscribed');
  });

  it('resubscribes after a disconnect with after = last seq and delivers no duplicates', async () => {
    const { client, stream, streams } = setup();
    const seen: number[] = [];
    const errors: Array<[unknown, boolean]> = [];
    const watch = watchRun(client, 'run-2', (event) => seen.push(event.seq), {
      retryDelay: { initialMs: 1, maxMs: 4 },
      onError: (error, willRetry) => errors.push([error, willRetry]),
    });

    const first = await stream(0);
    first.send(ev(1));
    first.send(ev(2));
    first.send(ev(3));
    // graphql-ws reconnected by itself and re-sent the original request: the server replays.
    first.send(ev(1));
    first.send(ev(2));
    first.send(ev(3));
    first.send(ev(4));
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(watch.lastSeq).toBe(4);

    first.drop();
    const second = await stream(1);
    expect(second.variables).toEqual({ runId: 'run-2', after: 4 });
    expect(errors).toHaveLength(1);
    expect(errors[0]![1]).toBe(true);
    // A server that replays at or before the cursor anyway still delivers nothing twice.
    second.send(ev(3));
    second.send(ev(4));
    second.send(ev(5));
    second.send(ev(6, 'succeeded'));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);

    // A second disconnect before any new event: the cursor stays.
    second.drop();
    const third = await stream(2);
    expect(third.variables).toEqual({ runId: 'run-2', after: 6 });
    third.complete();
    expect(await watch.done).toBe('completed');
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(streams).toHaveLength(3);
  });

  it('starts after a given cursor', async () => {
    const { client, stream } = setup();
    const seen: number[] = [];
    const watch = watchRun(client, 'run-3', (event) => seen.push(event.seq), { after: 10 });
    const first = await stream(0);
    expect(first.variables.after).toBe(10);
    first.send(ev(10));
    first.send(ev(11));
    expect(seen).toEqual([11]);
    watch.unsubscribe();
    await tick();
    expect(first.torndown).toBe(true);
  });

  it('stops on a GraphQL error (the server refused the run) without retrying', async () => {
    const { client, stream, streams } = setup();
    const errors: Array<[unknown, boolean]> = [];
    const watch = watchRun(client, 'nope', () => {}, { retryDelay: { initialMs: 1, maxMs: 1 }, onError: (e, retry) => errors.push([e, retry]) });
    (await stream(0)).refuse('run not found');
    expect(await watch.done).toBe('failed');
    expect(errors[0]![1]).toBe(false);
    expect(String((errors[0]![0] as Error).message)).toContain('run not found');
    await tick();
    expect(streams).toHaveLength(1);
  });

  it('gives up after maxRetries disconnects in a row', async () => {
    const { client, stream } = setup();
    const watch = watchRun(client, 'flaky', () => {}, { retryDelay: { initialMs: 1, maxMs: 1 }, maxRetries: 2 });
    (await stream(0)).drop();
    (await stream(1)).drop();
    (await stream(2)).drop();
    expect(await watch.done).toBe('failed');
  });

  it('resets the retry budget when events flow again', async () => {
    const { client, stream } = setup();
    const seen: number[] = [];
    const watch = watchRun(client, 'r', (event) => seen.push(event.seq), { retryDelay: { initialMs: 1, maxMs: 1 }, maxRetries: 1 });
    (await stream(0)).drop();
    const second = await stream(1);
    second.send(ev(1));
    second.drop();
    const third = await stream(2);
    expect(third.variables.after).toBe(1);
    third.complete();
    expect(await watch.done).toBe('completed');
    expect(seen).toEqual([1]);
  });

  it('keeps going when the event handler throws', async () => {
    const { client, stream } = setup();
    const errors: unknown[] = [];
    const seen: number[] = [];
    const watch = watchRun(
      client,
      'r',
      (event) => {
        seen.push(event.seq);
        if (event.seq === 1) throw new Error('render failed');
      },
      { onError: (e) => errors.push(e) },
    );
    const first = await stream(0);
    first.send(ev(1));
    first.send(ev(2));
    expect(seen).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
    watch.unsubscribe();
  });
});
