/**
 * Sizes and splitting, so that every event's `data` stays under the gateway's
 * 64 KiB limit. Pure.
 */
import { LIMITS, type EventData } from './protocol.js';

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8Bytes(s: string): number {
  return encoder.encode(s).length;
}

/** UTF-8 bytes of `value` serialized as JSON (Infinity when it cannot be serialized). */
export function jsonBytes(value: unknown): number {
  try {
    const s = JSON.stringify(value);
    return s === undefined ? 0 : utf8Bytes(s);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Bytes that code point `cp` takes inside a JSON string literal (UTF-8). */
function jsonCharBytes(cp: number): number {
  if (cp === 0x22 || cp === 0x5c || cp === 0x08 || cp === 0x0c || cp === 0x0a || cp === 0x0d || cp === 0x09) return 2;
  if (cp < 0x20) return 6; // \u00XX
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp >= 0xd800 && cp <= 0xdfff) return 6; // a lone surrogate is escaped
  if (cp < 0x10000) return 3;
  return 4;
}

/**
 * Splits `text` into pieces that each take at most `maxRawBytes` UTF-8 bytes and at
 * most `maxJsonBytes` bytes as a JSON string (quotes included), never inside a code
 * point. An empty string gives no pieces.
 */
export function splitText(text: string, maxRawBytes: number, maxJsonBytes: number = Number.POSITIVE_INFINITY): string[] {
  if (maxRawBytes < 4 || maxJsonBytes < 8) throw new RangeError('limits too small to hold one character');
  const pieces: string[] = [];
  let start = 0;
  let raw = 0;
  let json = 2;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    const r = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp >= 0xd800 && cp <= 0xdfff ? 3 : cp < 0x10000 ? 3 : 4;
    const j = jsonCharBytes(cp);
    if (raw + r > maxRawBytes || json + j > maxJsonBytes) {
      pieces.push(text.slice(start, i));
      start = i;
      raw = 0;
      json = 2;
    }
    raw += r;
    json += j;
    i += width;
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

/** At most `maxChars` characters of `s`, with an ellipsis when cut. */
export function clip(s: string, maxChars: number): string {
  return s.length <= maxChars ? s : `${s.slice(0, Math.max(0, maxChars - 1))}…`;
}

/** A preview of a value too large to send whole. */
function preview(value: unknown, maxBytes: number): { truncated: true; bytes: number; preview: string } {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return { truncated: true, bytes: utf8Bytes(text), preview: splitText(text, maxBytes, maxBytes)[0] ?? '' };
}

/**
 * `data` made to fit `maxBytes` serialized: when it is too large, `output`, then
 * `error`, then any other large member is replaced by a `{truncated, bytes, preview}`
 * stand-in. Values that cannot be serialized (cycles, BigInt) are replaced the same way.
 */
export function fitData(data: EventData, maxBytes: number = LIMITS.targetDataBytes): EventData {
  if (jsonBytes(data) <= maxBytes) return data;
  const out: EventData = { ...data };
  const budget = Math.floor(maxBytes / 4);
  const keys = ['output', 'error', ...Object.keys(out).filter((k) => k !== 'output' && k !== 'error' && k !== 'status')];
  for (const key of keys) {
    if (!(key in out)) continue;
    if (jsonBytes(out[key]) > budget) out[key] = preview(out[key], budget);
    if (jsonBytes(out) <= maxBytes) return out;
  }
  return { status: typeof data.status === 'string' ? clip(data.status, 64) : data.status, truncated: true };
}

/** A thrown value as event `error` data: `{message, name?, code?, ...details}`. */
export function errorData(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; details?: unknown };
    const out: Record<string, unknown> = { message: clip(e.message || e.name, 4000) };
    if (e.name && e.name !== 'Error') out.name = e.name;
    if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
    if (e.details && typeof e.details === 'object' && !Array.isArray(e.details)) Object.assign(out, e.details);
    return out;
  }
  if (typeof error === 'string') return { message: clip(error, 4000) };
  if (error && typeof error === 'object') return { message: 'the action failed', value: error };
  return { message: String(error) };
}
