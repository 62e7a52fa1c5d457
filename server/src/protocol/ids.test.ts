import { describe, expect, it } from 'vitest';
import {
  createUuidv7Generator,
  pooledRandomBytes,
  isActionId,
  isServiceId,
  isTraceId,
  isUuid,
  isUuidV7,
  newTraceId,
  normaliseTraceId,
  uuidv7,
  uuidv7Timestamp,
  type RandomBytes,
} from './ids.js';

const fixed =
  (...bytes: number[]): RandomBytes =>
  (n) =>
    Uint8Array.from({ length: n }, (_, i) => bytes[i % bytes.length] ?? 0);

/** Returns the given arrays one per call, then repeats the last one. */
const sequence =
  (...calls: number[][]): RandomBytes =>
  (n) => {
    const next = calls.length > 1 ? calls.shift() : calls[0];
    return Uint8Array.from({ length: n }, (_, i) => next?.[i % next.length] ?? 0);
  };

const RFC_RANDOM = fixed(0x0c, 0xc3, 0x18, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f);

describe('uuidv7', () => {
  it.each([
    // RFC 9562 Appendix A.6 test vector.
    ['RFC 9562 example', 1645557742000, RFC_RANDOM, '017f22e2-79b0-7cc3-98c4-dc0c0c07398f'],
    ['zero time, zero random', 0, fixed(0), '00000000-0000-7000-8000-000000000000'],
    ['all-ones random keeps version and variant', 0, fixed(0xff), '00000000-0000-7fff-bfff-ffffffffffff'],
    ['NaN clock is clamped to 0', Number.NaN, fixed(0), '00000000-0000-7000-8000-000000000000'],
    ['negative clock is clamped to 0', -5, fixed(0), '00000000-0000-7000-8000-000000000000'],
    ['clock beyond 48 bits is clamped', 2 ** 50, fixed(0), 'ffffffff-ffff-7000-8000-000000000000'],
    ['fractional ms are floored', 1.9, fixed(0), '00000000-0001-7000-8000-000000000000'],
    ['short random source is zero-padded', 0, () => new Uint8Array([0xff]), '00000000-0000-7f00-8000-000000000000'],
  ] as const)('%s', (_name, now, random, expected) => {
    const id = uuidv7(now, random);
    expect(id).toBe(expected);
    expect(isUuidV7(id)).toBe(true);
  });

  it('encodes the timestamp', () => {
    const id = uuidv7(1_767_225_600_123, fixed(7));
    expect(uuidv7Timestamp(id)).toBe(1_767_225_600_123);
  });
});

describe('createUuidv7Generator', () => {
  it.each([
    ['constant clock', () => 1000],
    ['clock going backwards', (() => { let t = 5000; return () => (t -= 3); })()],
  ])('produces strictly increasing ids with a %s', (_name, clock) => {
    const next = createUuidv7Generator(clock, fixed(0xff, 0xfe, 0x01));
    const ids = Array.from({ length: 500 }, () => next());
    for (const id of ids) expect(isUuidV7(id)).toBe(true);
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries into the next millisecond when the counter is exhausted', () => {
    const next = createUuidv7Generator(() => 10, fixed(0xff));
    const a = next();
    const b = next();
    expect(a).toBe('00000000-000a-7fff-bfff-ffffffffffff');
    expect(uuidv7Timestamp(b)).toBe(11);
    expect(b > a).toBe(true);
  });

  it('uses fresh randomness when the millisecond advances', () => {
    let t = 1;
    const next = createUuidv7Generator(() => t++, fixed(0));
    expect(next()).toBe('00000000-0001-7000-8000-000000000000');
    expect(next()).toBe('00000000-0002-7000-8000-000000000000');
  });
});

describe('isUuid / isUuidV7', () => {
  it.each([
    ['017f22e2-79b0-7cc3-98c4-dc0c0c07398f', true, true],
    ['017F22E2-79B0-7CC3-98C4-DC0C0C07398F', true, true],
    ['f47ac10b-58cc-4372-a567-0e02b2c3d479', true, false],
    ['00000000-0000-0000-0000-000000000000', true, false],
    ['017f22e2-79b0-7cc3-08c4-dc0c0c07398f', true, false],
    ['017f22e279b07cc398c4dc0c0c07398f', false, false],
    ['017f22e2-79b0-7cc3-98c4-dc0c0c07398', false, false],
    ['017f22e2-79b0-7cc3-98c4-dc0c0c07398g', false, false],
    ['', false, false],
    [42, false, false],
    [null, false, false],
  ])('%s → uuid %s, v7 %s', (value, uuid, v7) => {
    expect(isUuid(value)).toBe(uuid);
    expect(isUuidV7(value)).toBe(v7);
  });

  it('uuidv7Timestamp is null for non-v7', () => {
    expect(uuidv7Timestamp('f47ac10b-58cc-4372-a567-0e02b2c3d479')).toBeNull();
  });
});

describe('trace ids', () => {
  it.each([
    ['from random bytes', fixed(0xab, 0x01), 'ab01ab01ab01ab01ab01ab01ab01ab01'],
    ['all zeros first, then non-zero', sequence(Array(16).fill(0), [0x4b, 0xf9]), '4bf94bf94bf94bf94bf94bf94bf94bf9'],
    ['zeros forever', fixed(0), '00000000000000000000000000000001'],
  ] as const)('newTraceId %s', (_name, random, expected) => {
    const id = newTraceId(random);
    expect(id).toBe(expected);
    expect(isTraceId(id)).toBe(true);
  });

  it.each([
    ['4bf92f3577b34da6a3ce929d0e0e4736', true],
    ['4BF92F3577B34DA6A3CE929D0E0E4736', false],
    ['00000000000000000000000000000000', false],
    ['4bf92f3577b34da6a3ce929d0e0e473', false],
    ['4bf92f3577b34da6a3ce929d0e0e47361', false],
    ['4bf92f3577b34da6a3ce929d0e0e473g', false],
    [undefined, false],
  ])('isTraceId(%s) = %s', (value, expected) => {
    expect(isTraceId(value)).toBe(expected);
  });

  it.each([
    ['4bf92f3577b34da6a3ce929d0e0e4736', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['4BF92F3577B34DA6A3CE929D0E0E4736', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', null],
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', null],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', null],
    ['00-4bf92f35-...', null],
    ['', null],
    [12, null],
  ])('normaliseTraceId(%s) = %s', (value, expected) => {
    expect(normaliseTraceId(value)).toBe(expected);
  });
});

describe('service and action ids', () => {
  it.each([
    ['memory-sidecar-python', true],
    ['A_z-09', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['', false],
    ['has space', false],
    ['dot.ted', false],
    ['slash/ed', false],
    ['plus+', false],
    ['ünïcode', false],
    [7, false],
  ])('%s → %s', (value, expected) => {
    expect(isServiceId(value)).toBe(expected);
    expect(isActionId(value)).toBe(expected);
  });
});

describe('pooledRandomBytes', () => {
  // A counting source: every byte it ever fills is distinct (mod 256 over 4 KiB is fine for these sizes).
  function countingFill() {
    let next = 0;
    let calls = 0;
    return {
      fill: (buffer: Uint8Array) => {
        calls += 1;
        for (let i = 0; i < buffer.length; i++) buffer[i] = next++ & 0xff;
      },
      get calls() {
        return calls;
      },
    };
  }

  it.each([
    { sizes: [10, 10, 16], poolSize: 64, fills: 1 },
    { sizes: [10, 10, 10, 10, 10, 10, 10], poolSize: 64, fills: 2 },
    { sizes: [64, 1], poolSize: 64, fills: 2 },
    { sizes: [100], poolSize: 64, fills: 1 },
  ])('hands out each filled byte once: $sizes from a pool of $poolSize ($fills fills)', ({ sizes, poolSize, fills }) => {
    const source = countingFill();
    const random = pooledRandomBytes(source.fill, poolSize);
    const outs = sizes.map((n) => random(n));
    expect(outs.map((o) => o.length)).toEqual(sizes);
    expect(source.calls).toBe(fills);
    // Slices are copies: changing one leaves the next untouched.
    outs[0]!.fill(0xee);
    const all = outs.slice(1).flatMap((o) => [...o]);
    expect(all).not.toContain(0xee);
  });

  it('never repeats a byte sequence across calls within a pool', () => {
    const source = countingFill();
    const random = pooledRandomBytes(source.fill, 40);
    const [a, b, c, d] = [random(10), random(10), random(10), random(10)];
    expect([a, b, c, d].map((x) => x[0])).toEqual([0, 10, 20, 30]);
  });
});
