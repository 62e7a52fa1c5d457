// Subscription clients for tests: graphql-ws over a real WebSocket and SSE
// over a real HTTP response.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Collected<T> {
  items: T[];
  done: Promise<void>;
  errors: unknown[];
  waitFor(count: number, timeoutMs?: number): Promise<T[]>;
  stop(): void;
}

function collector<T>(): Collected<T> & { push(item: T): void; finish(): void; fail(error: unknown): void; onStop?: () => void } {
  const items: T[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const c = {
    items,
    errors,
    done,
    push(item: T) {
      items.push(item);
      for (const w of waiters) w();
    },
    finish() {
      finish();
      for (const w of waiters) w();
    },
    fail(error: unknown) {
      errors.push(error);
      c.finish();
    },
    waitFor(count: number, timeoutMs = 10_000) {
      return new Promise<T[]>((resolve, reject) => {
        const check = () => {
          if (items.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(items.slice());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} items, got ${items.length}${errors.length ? `; errors: ${JSON.stringify(errors)}` : ''}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      c.onStop?.();
    },
  } as Collected<T> & { push(item: T): void; finish(): void; fail(error: unknown): void; onStop?: () => void };
  return c;
}

export function wsClient(httpUrl: string, options: { connectionParams?: Record<string, unknown> } = {}): Client {
  return createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(options.connectionParams ? { connectionParams: options.connectionParams } : {}),
  });
}

export function subscribeWs<T>(client: Client, query: string, variables: Record<string, unknown>, pick: (data: Record<string, unknown>) => T): Collected<T> {
  const c = collector<T>();
  const dispose = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) c.errors.push(value.errors);
        if (value.data) c.push(pick(value.data as Record<string, unknown>));
      },
      error: (error) => c.fail(error),
      complete: () => c.finish(),
    },
  );
  c.onStop = dispose;
  return c;
}

export function subscribeSse<T>(httpUrl: string, query: string, variables: Record<string, unknown>, pick: (data: Record<string, unknown>) => T): Collected<T> {
  const c = collector<T>();
  const controller = new AbortController();
  c.onStop = () => controller.abort();
  void (async () => {
    try {
      const res = await fetch(`${httpUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query, variables }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (event === 'complete') {
            c.finish();
            return;
          }
          if (!data) continue;
          const payload = JSON.parse(data) as { data?: Record<string, unknown>; errors?: unknown };
          if (payload.errors) c.errors.push(payload.errors);
          if (payload.data) c.push(pick(payload.data));
        }
      }
      c.finish();
    } catch (error) {
      if ((error as Error).name !== 'AbortError') c.fail(error);
      else c.finish();
    }
  })();
  return c;
}
