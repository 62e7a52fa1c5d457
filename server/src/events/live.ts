// Live delivery to GraphQL subscriptions: an index of listeners over the
// fan-out (by run id for run events) and bounded queues, so a subscriber that
// cannot keep up is ended with a clear reason instead of growing memory.
import { GraphQLError } from 'graphql';
import type { RunEventRow, RunRow } from '../runs/events.js';
import type { ServiceRow } from '../services/catalogue.js';
import type { FanOut } from './fanout.js';

export const LIVE_LIMITS = {
  /** Items buffered for one subscriber before it is disconnected. */
  maxQueuedItems: 1_000,
} as const;

/** Close code for graphql-ws when a subscriber falls behind (4400-4499 are application codes there). */
export const SLOW_SUBSCRIBER_CLOSE_CODE = 4429;

export type LiveHub = ReturnType<typeof createLiveHub>;

export function createLiveHub(fanout: FanOut) {
  const byRun = new Map<string, Set<(event: RunEventRow) => void>>();
  const runListeners = new Set<(run: RunRow) => void>();
  const serviceListeners = new Set<(service: ServiceRow) => void>();
  fanout.subscribe((change) => {
    if (change.kind === 'event') {
      const set = byRun.get(change.runId);
      if (set) for (const listener of set) listener(change.event);
    } else if (change.kind === 'run') {
      for (const listener of runListeners) listener(change.run);
    } else {
      for (const listener of serviceListeners) listener(change.service);
    }
  });
  return {
    onRunEvent(runId: string, listener: (event: RunEventRow) => void): () => void {
      let set = byRun.get(runId);
      if (!set) byRun.set(runId, (set = new Set()));
      set.add(listener);
      return () => {
        set!.delete(listener);
        if (set!.size === 0) byRun.delete(runId);
      };
    },
    onRun(listener: (run: RunRow) => void): () => void {
      runListeners.add(listener);
      return () => runListeners.delete(listener);
    },
    onService(listener: (service: ServiceRow) => void): () => void {
      serviceListeners.add(listener);
      return () => serviceListeners.delete(listener);
    },
  };
}

export class SlowSubscriberError extends GraphQLError {
  constructor(queued: number) {
    super(`subscriber too slow: ${queued} items waiting; resubscribe (runEvents: with after = the last seq received)`, {
      extensions: { code: 'subscriber_too_slow' },
    });
  }
}

/**
 * A bounded push→pull queue. `attach` wires a source that pushes items and
 * returns its detach function. Overflow ends the iteration with
 * SlowSubscriberError (and calls `onOverflow`, e.g. to close the socket).
 */
export function boundedQueue<T>(limit: number, onOverflow?: (error: SlowSubscriberError) => void) {
  const items: T[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let ended = false;
  const detachers: Array<() => void> = [];
  const finish = () => {
    ended = true;
    for (const detach of detachers.splice(0)) detach();
    wake?.();
  };
  return {
    push(item: T) {
      if (ended) return;
      if (items.length >= limit) {
        failure = new SlowSubscriberError(items.length);
        onOverflow?.(failure as SlowSubscriberError);
        finish();
        return;
      }
      items.push(item);
      wake?.();
    },
    attach(detach: () => void) {
      if (ended) detach();
      else detachers.push(detach);
    },
    /**
     * The next item if one is waiting (undefined otherwise: empty or ended),
     * without a promise: a burst drains without one wake-up per item. Throws the overflow error.
     */
    take(): T | undefined {
      if (failure) throw failure;
      return items.shift();
    },
    /** Next item, or undefined when ended. Throws the overflow error. */
    async next(): Promise<T | undefined> {
      for (;;) {
        if (failure) throw failure;
        if (items.length > 0) return items.shift();
        if (ended) return undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
    close: finish,
    get size() {
      return items.length;
    },
  };
}

/** Adapts a bounded queue to an async iterator that detaches on return. */
export async function* iterate<T>(queue: ReturnType<typeof boundedQueue<T>>): AsyncGenerator<T> {
  try {
    for (;;) {
      const item = queue.take() ?? (await queue.next());
      if (item === undefined) return;
      yield item;
    }
  } finally {
    queue.close();
  }
}
