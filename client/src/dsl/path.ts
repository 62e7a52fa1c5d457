/**
 * Safe dot-path access shared by conditions and interpolation.
 *
 * Only own properties are visible (plus `length` of strings), so paths such as
 * `__proto__`, `constructor` or `toString` resolve to undefined instead of
 * reaching into prototypes.
 */

/** Keys that are never meaningful in data paths; templates reject them at load time. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Segment grammar for `{{…}}` placeholders. */
const TEMPLATE_PATH = /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*$/;

/** Splits `a.b.0` into segments; null when the path is empty or has an empty segment. */
export function splitPath(path: string): string[] | null {
  if (path.length === 0) return null;
  const segments = path.split('.');
  for (const segment of segments) if (segment.length === 0) return null;
  return segments;
}

/** One step of a path walk. Arrays expose indices and `length` as own properties already. */
export function stepInto(current: unknown, key: string): unknown {
  if (typeof current === 'object' && current !== null) {
    return Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
  }
  if (typeof current === 'string' && key === 'length') return current.length;
  return undefined;
}

/** Resolves pre-split segments against a subject; a missing step gives undefined. */
export function getPath(subject: unknown, segments: readonly string[]): unknown {
  let current = subject;
  for (let i = 0; i < segments.length; i++) {
    if (current === undefined || current === null) return undefined;
    current = stepInto(current, segments[i] as string);
  }
  return current;
}

/**
 * Resolves an unsplit dot path (assumed valid) without allocating a segment
 * array; used by the interpreter, which cannot cache splits.
 */
export function getPathString(subject: unknown, path: string): unknown {
  let current = subject;
  let start = 0;
  for (;;) {
    if (current === undefined || current === null) return undefined;
    const dot = path.indexOf('.', start);
    current = stepInto(current, dot === -1 ? path.slice(start) : path.slice(start, dot));
    if (dot === -1) return current;
    start = dot + 1;
  }
}

/**
 * Parses the inside of a `{{…}}` placeholder: trims it and drops an optional
 * leading `action.`. Null when it does not follow the template grammar or
 * names a prototype key.
 */
export function parsePlaceholder(inner: string): string[] | null {
  let text = inner.trim();
  if (text.startsWith('action.')) text = text.slice('action.'.length);
  if (!TEMPLATE_PATH.test(text)) return null;
  const segments = text.split('.');
  for (const segment of segments) if (PROTOTYPE_KEYS.has(segment)) return null;
  return segments;
}

/** Matches `{{ … }}` placeholders (no braces inside). */
export const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;

/** A string that is exactly one placeholder (used by typed interpolation and id checks). */
export const SINGLE_PLACEHOLDER = /^\{\{([^{}]*)\}\}$/;

const IDENTIFIER_KEY = /^[A-Za-z0-9_$-]+$/;

/** Appends an object key to an issue path (`a.b`, or `a["x.y"]` for unusual keys). */
export function joinKey(base: string, key: string): string {
  const part = IDENTIFIER_KEY.test(key) ? key : JSON.stringify(key);
  if (base.length === 0) return IDENTIFIER_KEY.test(key) ? key : `[${part}]`;
  return IDENTIFIER_KEY.test(key) ? `${base}.${key}` : `${base}[${part}]`;
}

/** Appends an array index to an issue path (`a[0]`). */
export function joinIndex(base: string, index: number): string {
  return `${base}[${index}]`;
}

/** Service and action ids, as in the gateway's MQTT contract. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
