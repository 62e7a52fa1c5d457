import { describe, expect, it } from 'vitest';
import { boundedQueue, iterate, SlowSubscriberError } from './live.js';

describe('boundedQueue', () => {
  it('hands out waiting items at once with take, in order, and waits with next', async () => {
    const queue = boundedQueue<number>(10);
    expect(queue.take()).toBeUndefined();
    queue.push(1);
    queue.push(2);
    expect(queue.take()).toBe(1);
    expect(queue.take()).toBe(2);
    const next = queue.next();
    queue.push(3);
    expect(await next).toBe(3);
  });

  it('ends on overflow: the next take or next throws SlowSubscriberError, onOverflow is told once, sources are detached', async () => {
    const overflows: SlowSubscriberError[] = [];
    let detached = 0;
    const queue = boundedQueue<number>(2, (error) => overflows.push(error));
    queue.attach(() => detached++);
    queue.push(1);
    queue.push(2);
    queue.push(3);
    queue.push(4);
    expect(overflows).toHaveLength(1);
    expect(overflows[0]!.extensions.code).toBe('subscriber_too_slow');
    expect(detached).toBe(1);
    expect(() => queue.take()).toThrow(SlowSubscriberError);
    await expect(queue.next()).rejects.toThrow(SlowSubscriberError);
  });

  it('iterate yields queued and later items and ends when the queue is closed', async () => {
    const queue = boundedQueue<string>(10);
    queue.push('a');
    queue.push('b');
    const seen: string[] = [];
    const done = (async () => {
      for await (const item of iterate(queue)) seen.push(item);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    queue.push('c');
    await new Promise((resolve) => setImmediate(resolve));
    queue.close();
    await done;
    expect(seen).toEqual(['a', 'b', 'c']);
  });
});
