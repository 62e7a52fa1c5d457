import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { inProcessPair } from './in-process.js';

describe('inProcessPair', () => {
  it('carries writes both ways, in order, never inside the write call', async () => {
    const [a, b] = inProcessPair();
    const atB: string[] = [];
    const atA: string[] = [];
    b.on('data', (chunk: Buffer) => atB.push(chunk.toString()));
    a.on('data', (chunk: Buffer) => atA.push(chunk.toString()));
    a.write('one');
    a.write('two');
    b.write('back');
    expect(atB).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(atB).toEqual(['one', 'two']);
    expect(atA).toEqual(['back']);
  });

  it('ends the other side on end, and closes it on destroy', async () => {
    const [a, b] = inProcessPair();
    b.resume();
    a.end();
    await once(b, 'end');
    const [c, d] = inProcessPair();
    c.destroy();
    await once(d, 'close');
    expect(d.destroyed).toBe(true);
  });

  it('closes this side too when the other side is destroyed, so a late write fails', async () => {
    const [a, b] = inProcessPair();
    b.destroy();
    await once(a, 'close');
    a.on('error', () => {});
    const failed = new Promise<Error | null | undefined>((resolve) => a.write('late', (error) => resolve(error)));
    expect(await failed).toBeInstanceOf(Error);
  });
});
