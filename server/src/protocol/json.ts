/** Small JSON helpers that never throw. */
import { err, ok, type Result } from './result.js';

export type JsonObject = Record<string, unknown>;

/** True for a non-null, non-array object whose prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function hasOwn(obj: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/** UTF-8 byte length of a string. */
export function utf8Length(s: string): number {
  // Fast path: every UTF-16 code unit takes at most 3 UTF-8 bytes.
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Number of Unicode code points in a string. */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Serialises a value as JSON without throwing (cycles and BigInt become an error).
 * `undefined` at the top level is an error too.
 */
export function safeStringify(value: unknown): Result<string, 'invalid_json'> {
  try {
    const s = JSON.stringify(value);
    if (typeof s !== 'string') return err('invalid_json', '', 'value is not representable as JSON');
    return ok(s);
  } catch {
    return err('invalid_json', '', 'value is not representable as JSON');
  }
}

/** A JSON column's parameter for a raw statement: the JSON text, or SQL NULL for null and undefined. */
export const jsonParameter = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** Serialised UTF-8 size of a JSON value, or an error when it cannot be serialised. */
export function jsonByteSize(value: unknown): Result<number, 'invalid_json'> {
  const s = safeStringify(value);
  return s.ok ? ok(utf8Length(s.value)) : s;
}

/** Deep copy through JSON (drops `undefined` members, exactly as storing it would). */
export function jsonClone(value: unknown): Result<unknown, 'invalid_json'> {
  const s = safeStringify(value);
  return s.ok ? ok(JSON.parse(s.value) as unknown) : s;
}

/**
 * Deterministic JSON: object keys sorted (by UTF-16 code units), no whitespace.
 * Two values are "the same request" for idempotency when their canonical JSON is equal.
 */
export function canonicalJson(value: unknown): Result<string, 'invalid_json'> {
  const seen = new Set<object>();
  const walk = (v: unknown): string | undefined => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return JSON.stringify(v);
      case 'number':
        return Number.isFinite(v) ? JSON.stringify(v) : 'null';
      case 'object': {
        if (seen.has(v)) throw new TypeError('cycle');
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out = `[${v.map((item) => walk(item) ?? 'null').join(',')}]`;
        } else {
          const obj = v as JsonObject;
          const toJson = (obj as { toJSON?: unknown }).toJSON;
          if (typeof toJson === 'function') {
            seen.delete(v);
            return walk((toJson as () => unknown).call(obj));
          }
          const parts: string[] = [];
          for (const key of Object.keys(obj).sort()) {
            const member = walk(obj[key]);
            if (member !== undefined) parts.push(`${JSON.stringify(key)}:${member}`);
          }
          out = `{${parts.join(',')}}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        // undefined, function, symbol: omitted like JSON.stringify; bigint is an error.
        if (typeof v === 'bigint') throw new TypeError('bigint');
        return undefined;
    }
  };
  try {
    const s = walk(value);
    return s === undefined ? err('invalid_json', '', 'value is not representable as JSON') : ok(s);
  } catch {
    return err('invalid_json', '', 'value is not representable as JSON');
  }
}

/** Decodes UTF-8 bytes strictly (a leading BOM is ignored). */
// One decoder for every call: without `stream` a decode keeps no state between calls.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(buf: Uint8Array): Result<string, 'invalid_utf8'> {
  try {
    return ok(strictUtf8.decode(buf));
  } catch {
    return err('invalid_utf8', '', 'payload is not valid UTF-8');
  }
}

export type JsonBytesErrorCode = 'too_large' | 'invalid_utf8' | 'invalid_json' | 'not_object';

/**
 * Bytes → one JSON object: size limit first, then UTF-8, then JSON, then "is an object".
 */
export function parseJsonObjectBytes(
  buf: Uint8Array,
  maxBytes: number,
): Result<JsonObject, JsonBytesErrorCode> {
  const parsed = parseJsonObjectText(buf, maxBytes);
  return parsed.ok ? ok(parsed.value.object) : parsed;
}

/** parseJsonObjectBytes, also returning the decoded text the object was parsed from. */
export function parseJsonObjectText(
  buf: Uint8Array,
  maxBytes: number,
): Result<{ object: JsonObject; text: string }, JsonBytesErrorCode> {
  if (buf.byteLength > maxBytes) {
    return err('too_large', '', `payload is ${buf.byteLength} bytes; the limit is ${maxBytes} bytes`);
  }
  const text = decodeUtf8(buf);
  if (!text.ok) return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.value);
  } catch {
    return err('invalid_json', '', 'payload is not a single JSON value');
  }
  if (!isPlainObject(parsed)) return err('not_object', '', 'payload must be a JSON object');
  // Only escapes can smuggle these in (strict UTF-8 has already excluded raw ones).
  if (MAYBE_UNSTORABLE.test(text.value)) {
    const path = unstorableStringPath(parsed);
    if (path !== null) return err('invalid_json', path, 'strings may not contain U+0000 or unpaired surrogates (\\u0000, \\ud800…): the database cannot store them');
  }
  return ok({ object: parsed, text: text.value });
}

const MAYBE_UNSTORABLE = /\\u(0000|d[89a-f])/i;

/** Whether Postgres text and jsonb refuse `s`: U+0000 or an unpaired surrogate. */
export const isUnstorableString = (s: string): boolean => s.includes('\u0000') || !s.isWellFormed();

/**
 * The path of the first string (value or key) holding U+0000 or an unpaired
 * surrogate, which Postgres text and jsonb refuse; null when there is none.
 */
export function unstorableStringPath(value: unknown): string | null {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (isUnstorableString(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}[${i}]`]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        if (isUnstorableString(key)) return path;
        stack.push([item, path ? `${path}.${key}` : key]);
      }
    }
  }
  return null;
}

/** Where `value` holds a string Postgres cannot store ('(value)' for the value itself), or null. */
export function findUnstorableString(value: unknown): string | null {
  const path = unstorableStringPath(value);
  return path === null ? null : path || '(value)';
}

export const UNSTORABLE_MESSAGE = 'contains a NUL character (\\u0000) or an unpaired surrogate, which cannot be stored';
