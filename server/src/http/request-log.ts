// Writes each HTTP request's bookkeeping (its log line and metrics) a moment
// after its response went out, a batch at a time, instead of inside the
// response's `finish` callback. That callback runs just as an Axon's answer to
// a trigger comes back, and the bookkeeping (a JSON log line, three metric
// updates) held the answer's ingest back by its whole cost, 0.1 to 0.2 ms here
// (bench:events). A record waits at most `delayMs`; a full batch, a metrics
// scrape (`flush`) or the server's close writes at once.

export interface RequestLogOptions {
  /** The longest a record waits, in ms. Default 1. */
  delayMs?: number;
  /** Records kept before they are written at once. Default 1,000. */
  maxPending?: number;
  /** A failing `write` must not lose the batch's later records. */
  onError?: (error: unknown) => void;
}

export interface RequestLog<R> {
  /** Queues a record; it is written within `delayMs`. */
  record(entry: R): void;
  /** Writes every queued record now. */
  flush(): void;
  /** Records queued and not written yet. */
  pending(): number;
}

export function createRequestLog<R>(write: (entry: R) => void, options: RequestLogOptions = {}): RequestLog<R> {
  const delayMs = options.delayMs ?? 1;
  const maxPending = options.maxPending ?? 1_000;
  let queue: R[] = [];
  let timer: NodeJS.Timeout | undefined;

  function flush(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const batch = queue;
    queue = [];
    for (const entry of batch) {
      try {
        write(entry);
      } catch (error) {
        options.onError?.(error);
      }
    }
  }

  return {
    record(entry) {
      queue.push(entry);
      if (queue.length >= maxPending) flush();
      // Unref'd: a record waiting here never keeps the process alive.
      else if (timer === undefined) timer = setTimeout(flush, delayMs).unref();
    },
    flush,
    pending: () => queue.length,
  };
}
