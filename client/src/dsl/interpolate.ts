/**
 * `{{action.a.b}}` interpolation over string values of a template (objects and
 * arrays are walked; keys are left alone). Placeholder paths follow the same
 * own-property rules as condition fields.
 */
import { MAX_TEMPLATE_DEPTH } from './limits.js';
import { getPath, parsePlaceholder, PLACEHOLDER, SINGLE_PLACEHOLDER } from './path.js';
import type { InterpolateOptions } from './types.js';

function resolve(inner: string, subject: unknown): unknown {
  const segments = parsePlaceholder(inner);
  if (segments === null) return undefined;
  try {
    return getPath(subject, segments);
  } catch {
    // A throwing getter in the subject reads as "missing".
    return undefined;
  }
}

/** JSON that survives cycles (`"[Circular]"`), BigInt (as a string) and throwing toJSON (→ ""). */
export function safeJson(value: unknown): string {
  const ancestors: unknown[] = [];
  try {
    const text = JSON.stringify(value, function (this: unknown, _key: string, current: unknown): unknown {
      if (typeof current === 'bigint') return current.toString();
      if (typeof current !== 'object' || current === null) return current;
      // `this` is the holder; drop ancestors that are not on the current branch.
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(current)) return '[Circular]';
      ancestors.push(current);
      return current;
    }) as string | undefined;
    return text ?? '';
  } catch {
    return '';
  }
}

/** String mode: null/undefined → "", numbers/booleans → String, objects → JSON. */
export function toText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      return value === null ? '' : safeJson(value);
    default:
      // undefined, functions and symbols are not data.
      return '';
  }
}

/** Typed mode: keep the type, but hand out a JSON-safe copy, never the subject's own objects. */
function toTyped(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null) return null;
      const text = safeJson(value);
      if (text === '') return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return null;
      }
    }
    default:
      return null;
  }
}

function interpolateString(text: string, subject: unknown, typed: boolean): unknown {
  if (!text.includes('{{')) return text;
  if (typed) {
    const single = SINGLE_PLACEHOLDER.exec(text);
    if (single) return toTyped(resolve(single[1] as string, subject));
  }
  return text.replace(PLACEHOLDER, (_match, inner: string) => toText(resolve(inner, subject)));
}

function walk(node: unknown, subject: unknown, typed: boolean, depth: number, ancestors: Set<object>): unknown {
  if (typeof node === 'string') return interpolateString(node, subject, typed);
  if (typeof node !== 'object' || node === null) return node;
  // Cycles and runaway nesting become null rather than recursing forever.
  if (depth > MAX_TEMPLATE_DEPTH || ancestors.has(node)) return null;
  ancestors.add(node);
  try {
    if (Array.isArray(node)) {
      const out: unknown[] = new Array<unknown>(node.length);
      for (let i = 0; i < node.length; i++) out[i] = walk(node[i], subject, typed, depth + 1, ancestors);
      return out;
    }
    // fromEntries defines properties, so a `__proto__` key stays an ordinary key.
    return Object.fromEntries(
      Object.keys(node).map((key) => [key, walk((node as Record<string, unknown>)[key], subject, typed, depth + 1, ancestors)]),
    );
  } finally {
    ancestors.delete(node);
  }
}

/**
 * Replaces `{{action.path}}` placeholders in every string value of `template`.
 * Returns a new value; the template and the subject are never mutated. Never throws.
 */
export function interpolate(template: string, subject: unknown, options?: { typed?: false }): string;
export function interpolate(template: unknown, subject: unknown, options?: InterpolateOptions): unknown;
export function interpolate(template: unknown, subject: unknown, options?: InterpolateOptions): unknown {
  const typed = options?.typed === true;
  try {
    return walk(template, subject, typed, 1, new Set());
  } catch {
    // Only exotic templates (proxies, throwing getters) get here.
    return typeof template === 'string' && !typed ? '' : null;
  }
}
