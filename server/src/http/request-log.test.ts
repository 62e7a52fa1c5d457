import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createRequestLog } from './request-log.js';

function recorder(failOn?: number) {
  const written: number[] = [];
  const errors: unknown[] = [];
  const log = createRequestLog<number>(
    (n) => {
      if (n === failOn) throw new Error(`record ${n} failed`);
      written.push(n);
    },
    { delayMs: 5, maxPending: 4, onError: (e) => errors.push(e) },
  );
  return { log, written, errors };
}

describe('createRequestLog', () => {
  it('writes nothing during the turn that records, then the batch in order within the delay', async () => {
    const { log, written } = recorder();
    log.record(1);
    log.record(2);
    log.record(3);
    expect(written).toEqual([]);
    expect(log.pending()).toBe(3);
    await sleep(30);
    expect(written).toEqual([1, 2, 3]);
    expect(log.pending()).toBe(0);
  });

  it.each([
    { name: 'a full batch', records: [1, 2, 3, 4], flush: false, now: [1, 2, 3, 4] },
    { name: 'flush()', records: [1, 2], flush: true, now: [1, 2] },
    { name: 'neither', records: [1, 2, 3], flush: false, now: [] },
  ])('writes at once on $name', async ({ records, flush, now }) => {
    const { log, written } = recorder();
    for (const r of records) log.record(r);
    if (flush) log.flush();
    expect(written).toEqual(now);
    await sleep(30);
    // Whatever was written at once is not written again when the delay ends.
    expect(written).toEqual(records);
  });

  it('keeps writing the batch after a record fails, and reports the failure', async () => {
    const { log, written, errors } = recorder(2);
    log.record(1);
    log.record(2);
    log.record(3);
    log.flush();
    expect(written).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('record 2 failed');
  });

  it('records after a flush start a new delay', async () => {
    const { log, written } = recorder();
    log.record(1);
    log.flush();
    log.record(2);
    expect(written).toEqual([1]);
    await sleep(30);
    expect(written).toEqual([1, 2]);
  });
});
