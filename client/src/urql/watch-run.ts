/**
 * `watchRun`: follow a run's events through the `runEvents(runId, after)`
 * subscription, surviving disconnects without gaps or duplicates.
 *
 * The gateway replays the stored events after the cursor, then goes live. When
 * the stream fails (the socket dropped and graphql-ws gave up, or the server
 * ended it with a network error) this resubscribes with `after` = the last
 * delivered `seq`, with backoff. graphql-ws also reconnects by itself and then
 * re-sends the original request (with the original `after`), so events are
 * additionally filtered by `seq`: each is delivered once, in increasing order.
 */
import type { AnyVariables, Client, CombinedError, OperationContext, OperationResult } from '@urql/core';
import { onEnd, pipe, subscribe } from 'wonka';
import { type BackoffOptions, backoffDelay } from './client.js';

/** An event of a run; `seq` is its per-run sequence number (1, 2, 3, …). */
export interface RunEvent {
  seq: number;
  [field: string]: unknown;
}

/** Why a watch ended. */
export type RunWatchEnd =
  /** The server completed the subscription (the run is over). */
  | 'completed'
  /** `unsubscribe()` was called. */
  | 'unsubscribed'
  /** The server refused the subscription (a GraphQL error, e.g. an unknown run), or retries ran out. */
  | 'failed';

export interface WatchRunOptions {
  /** Deliver events with `seq` greater than this (default: from the first event). */
  after?: number | null;
  /** The selection inside `runEvents { … }`; must include `seq`. */
  fields?: string;
  /** Backoff between resubscriptions. */
  retryDelay?: BackoffOptions;
  /** Resubscriptions in a row without a new event before giving up. Default: unlimited. */
  maxRetries?: number;
  /** Told of every failure; `willRetry` says whether the watch goes on. */
  onError?: (error: CombinedError | unknown, willRetry: boolean) => void;
  /** Extra urql context for the subscription operation. */
  context?: Partial<OperationContext>;
}

export interface RunWatch {
  /** The highest `seq` delivered so far (null before the first event). */
  readonly lastSeq: number | null;
  /** Resolves once the watch has ended, with the reason. */
  readonly done: Promise<RunWatchEnd>;
  /** Stops watching; `done` resolves with `'unsubscribed'`. */
  unsubscribe(): void;
}

/** Fields requested when `fields` is not given. */
export const DEFAULT_RUN_EVENT_FIELDS = 'seq type state reason time data';

/** The subscription document (a plain string: `runEvents` is not in every gateway's schema yet). */
export function runEventsDocument(fields: string = DEFAULT_RUN_EVENT_FIELDS): string {
  return `subscription WatchRun($runId: ID!, $after: Int) { runEvents(runId: $runId, after: $after) { ${fields} } }`;
}

interface RunEventsData<E> {
  runEvents: E;
}

export function watchRun<E extends RunEvent = RunEvent>(
  client: Client,
  runId: string,
  onEvent: (event: E) => void,
  options: WatchRunOptions = {},
): RunWatch {
  const query = runEventsDocument(options.fields);
  const maxRetries = options.maxRetries ?? Number.POSITIVE_INFINITY;
  let lastSeq: number | null = options.after ?? null;
  let stopped = false;
  let failures = 0;
  let current: { unsubscribe(): void } | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resolveDone!: (end: RunWatchEnd) => void;
  const done = new Promise<RunWatchEnd>((resolve) => {
    resolveDone = resolve;
  });

  function finish(end: RunWatchEnd): void {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    const subscription = current;
    current = null;
    subscription?.unsubscribe();
    resolveDone(end);
  }

  function report(error: unknown, willRetry: boolean): void {
    try {
      options.onError?.(error, willRetry);
    } catch {
      // A failing listener must not end the watch.
    }
  }

  function start(): void {
    if (stopped) return;
    let ended = false;
    let subscription: { unsubscribe(): void } | null = null;

    /** Ends this attempt once: done for good, or a resubscription after a backoff. */
    const endAttempt = (outcome: 'completed' | 'retry' | 'failed') => {
      if (ended) return;
      ended = true;
      if (current === subscription) current = null;
      subscription?.unsubscribe();
      if (stopped) return;
      if (outcome !== 'retry') return finish(outcome);
      if (failures >= maxRetries) return finish('failed');
      timer = setTimeout(start, backoffDelay(failures++, options.retryDelay));
    };

    const handle = (result: OperationResult<RunEventsData<E>, AnyVariables>) => {
      if (stopped || ended) return;
      const event = result.data?.runEvents;
      if (event && typeof event.seq === 'number' && (lastSeq === null || event.seq > lastSeq)) {
        // Anything at or below lastSeq is a replay after a reconnect: skip it.
        lastSeq = event.seq;
        failures = 0;
        try {
          onEvent(event);
        } catch (error) {
          report(error, true);
        }
      }
      if (result.error) {
        // GraphQL errors without a network error: the server refused this subscription.
        const fatal = !result.error.networkError && result.error.graphQLErrors.length > 0;
        report(result.error, !fatal && failures < maxRetries);
        endAttempt(fatal ? 'failed' : 'retry');
      }
    };

    subscription = pipe(
      client.subscription<RunEventsData<E>>(query, { runId, after: lastSeq }, options.context),
      // The server completed the stream (an error result ends the attempt first).
      onEnd(() => endAttempt('completed')),
      subscribe(handle),
    );
    // The stream may have ended synchronously, before `subscribe` returned.
    if (ended) subscription.unsubscribe();
    else current = subscription;
  }

  start();
  return {
    get lastSeq() {
      return lastSeq;
    },
    done,
    unsubscribe: () => finish('unsubscribed'),
  };
}
