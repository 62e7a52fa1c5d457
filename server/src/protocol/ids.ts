/**
 * Identifiers used on the wire: UUIDv7 (RFC 9562) for ids the gateway generates,
 * W3C trace ids, and service/action ids.
 *
 * Pure: the clock and the random source are parameters.
 */

/** A source of random bytes, for example `(n) => crypto.getRandomValues(new Uint8Array(n))`. */
export type RandomBytes = (n: number) => Uint8Array;

/** Service ids (MQTT topic suffix) and action ids: 1–128 of `A-Z a-z 0-9 _ -`. */
export const SERVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Action ids follow the same pattern as service ids. */
export const ACTION_ID_PATTERN = SERVICE_ID_PATTERN;

export function isServiceId(s: unknown): s is string {
  return typeof s === 'string' && SERVICE_ID_PATTERN.test(s);
}

export function isActionId(s: unknown): s is string {
  return typeof s === 'string' && ACTION_ID_PATTERN.test(s);
}

/**
 * A RandomBytes that fills a pool of `poolSize` bytes at a time through `fill`
 * (for example `crypto.randomFillSync`) and hands out fresh slices of it: one
 * call into the CSPRNG per few hundred ids instead of one per id. Every byte is
 * handed out once; requests larger than the pool get their own buffer.
 */
export function pooledRandomBytes(fill: (buffer: Uint8Array) => void, poolSize = 4096): RandomBytes {
  const pool = new Uint8Array(poolSize);
  let offset = poolSize;
  return (n) => {
    if (n > poolSize) {
      const own = new Uint8Array(n);
      fill(own);
      return own;
    }
    if (offset + n > poolSize) {
      fill(pool);
      offset = 0;
    }
    const out = pool.slice(offset, offset + n);
    offset += n;
    return out;
  };
}

const MAX_UUIDV7_MS = 2 ** 48 - 1;
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Exactly `n` bytes from the source: missing bytes are zero, extra bytes are ignored. */
function takeBytes(randomBytes: RandomBytes, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const got = randomBytes(n);
  out.set(got.subarray(0, n));
  return out;
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX[b] ?? '00';
  return s;
}

function formatUuid(bytes: Uint8Array): string {
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Clamps a clock reading to the 48-bit unsigned millisecond range of UUIDv7. */
function clampMs(now: number): number {
  if (!Number.isFinite(now) || now < 0) return 0;
  return Math.min(Math.floor(now), MAX_UUIDV7_MS);
}

function uuidv7Bytes(ms: number, rand: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(16);
  // 48-bit big-endian unix_ts_ms (bytes 0–5).
  let t = ms;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = t % 256;
    t = Math.floor(t / 256);
  }
  // 74 random bits: rand_a (12 bits) and rand_b (62 bits).
  bytes.set(rand.subarray(0, 10), 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // variant 0b10
  return bytes;
}

/**
 * A UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, version 7, 12 bits rand_a,
 * variant `10`, 62 bits rand_b; lowercase, hyphenated.
 * `now` is clamped to 0 … 2^48−1 (NaN and negatives become 0). Uses 10 random bytes.
 */
export function uuidv7(now: number, randomBytes: RandomBytes): string {
  return formatUuid(uuidv7Bytes(clampMs(now), takeBytes(randomBytes, 10)));
}

/**
 * A generator of UUIDv7s that sort in creation order even within one millisecond or
 * when the clock steps back (RFC 9562 §6.2 method 3: rand_a/rand_b act as a counter
 * seeded randomly each new millisecond). The closure keeps the last value; no I/O.
 */
export function createUuidv7Generator(clock: () => number, randomBytes: RandomBytes): () => string {
  let lastMs = -1;
  let last: Uint8Array = new Uint8Array(16);
  return () => {
    const ms = clampMs(clock());
    if (ms > lastMs) {
      lastMs = ms;
      last = uuidv7Bytes(ms, takeBytes(randomBytes, 10));
      return formatUuid(last);
    }
    // Same or earlier millisecond: increment the 74-bit random part of the previous value.
    const next = last.slice();
    for (let i = 15; i >= 6; i--) {
      // Skip the fixed version/variant bits by incrementing within their masks.
      const mask = i === 6 ? 0x0f : i === 8 ? 0x3f : 0xff;
      const fixed = (next[i] ?? 0) & ~mask & 0xff;
      const value = ((next[i] ?? 0) & mask) + 1;
      if (value <= mask) {
        next[i] = fixed | value;
        last = next;
        return formatUuid(last);
      }
      next[i] = fixed; // carry
    }
    // Counter exhausted within this millisecond: move to the next millisecond.
    lastMs = Math.min(lastMs + 1, MAX_UUIDV7_MS);
    last = uuidv7Bytes(lastMs, takeBytes(randomBytes, 10));
    return formatUuid(last);
  };
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUIDV7_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Any hyphenated 8-4-4-4-12 hex UUID (either case; nil and max UUIDs included). */
export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_PATTERN.test(s);
}

/** A UUID with version 7 and the RFC 9562 variant. */
export function isUuidV7(s: unknown): s is string {
  return typeof s === 'string' && UUIDV7_PATTERN.test(s);
}

/** Milliseconds encoded in a UUIDv7, or `null` if `s` is not one. */
export function uuidv7Timestamp(s: string): number | null {
  if (!isUuidV7(s)) return null;
  return Number.parseInt(s.slice(0, 8) + s.slice(9, 13), 16);
}

const TRACE_ID_PATTERN = /^[0-9a-f]{32}$/;
const ZERO_TRACE_ID = '0'.repeat(32);

/** W3C Trace Context trace id: 32 lowercase hex digits, not all zeros. */
export function isTraceId(s: unknown): s is string {
  return typeof s === 'string' && TRACE_ID_PATTERN.test(s) && s !== ZERO_TRACE_ID;
}

/**
 * A new W3C trace id from 16 random bytes. All-zero ids are invalid: the source is
 * asked again (up to 3 times) and, if it keeps returning zeros, the last digit is 1.
 */
export function newTraceId(randomBytes: RandomBytes): string {
  for (let attempt = 0; attempt < 3; attempt++) {
    const id = toHex(takeBytes(randomBytes, 16));
    if (id !== ZERO_TRACE_ID) return id;
  }
  return `${ZERO_TRACE_ID.slice(0, 31)}1`;
}

const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Reads a trace id from what callers send as `traceId`: 32 hex digits (either case),
 * or a W3C `traceparent` value `vv-<trace-id>-<parent-id>-<flags>`. Returns the
 * lowercase 32-digit trace id, or `null` when neither form is valid (all-zero trace
 * ids, version `ff` and an all-zero parent id are invalid per W3C Trace Context).
 */
export function normaliseTraceId(s: unknown): string | null {
  if (typeof s !== 'string' || s.length > 55) return null;
  const lower = s.toLowerCase();
  if (isTraceId(lower)) return lower;
  const m = TRACEPARENT_PATTERN.exec(lower);
  if (!m || m[1] === 'ff' || m[3] === '0000000000000000') return null;
  const traceId = m[2] ?? '';
  return isTraceId(traceId) ? traceId : null;
}
