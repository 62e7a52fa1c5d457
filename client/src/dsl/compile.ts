/**
 * Compiles a condition tree into a function, validating it once up front.
 *
 * Default mode builds a tree of closures (no eval, so it is CSP-safe): paths are
 * pre-split, each operator gets its own closure, and long `in`/`nin` lists become
 * Sets. The opt-in `codegen` mode emits one JavaScript function with `new Function`;
 * every key is embedded through JSON.stringify and every value lives in a closure
 * array, so configuration text never becomes code.
 *
 * Both modes snapshot the tree: mutating it after compiling has no effect.
 */
import { applyOperator } from './operators.js';
import { splitPath } from './path.js';
import type { CompileOptions, CompiledCondition, PredicateOperator } from './types.js';
import { isWellFormed } from './validate.js';

type Node = Record<string, unknown>;
type Getter = (subject: unknown) => unknown;

/** Lists longer than this are looked up through a Set. */
const SET_THRESHOLD = 8;

const ALWAYS: CompiledCondition = () => true;
const NEVER: CompiledCondition = () => false;

function own(current: unknown, key: string): unknown {
  if (typeof current === 'object' && current !== null) {
    return Object.hasOwn(current, key) ? (current as Record<string, unknown>)[key] : undefined;
  }
  return undefined;
}

/** A step for `length`, the only key that also reads strings. */
function ownOrLength(current: unknown): unknown {
  if (typeof current === 'object' && current !== null) {
    return Object.hasOwn(current, 'length') ? (current as Record<string, unknown>).length : undefined;
  }
  return typeof current === 'string' ? current.length : undefined;
}

function compileStep(key: string): Getter {
  return key === 'length' ? ownOrLength : (current) => own(current, key);
}

function compileGetter(segments: readonly string[]): Getter {
  const steps = segments.map(compileStep);
  const [a, b, c] = steps;
  if (steps.length === 1 && a) return a;
  if (steps.length === 2 && a && b) return (s) => b(a(s));
  if (steps.length === 3 && a && b && c) return (s) => c(b(a(s)));
  // Every step maps null/undefined to undefined, matching getPath's early exit.
  return (s) => {
    let current = s;
    for (let i = 0; i < steps.length; i++) current = (steps[i] as Getter)(current);
    return current;
  };
}

/** Reads the list the same way `containsStrict` does (holes read as undefined). */
function snapshotList(list: readonly unknown[]): unknown[] {
  const copy: unknown[] = new Array<unknown>(list.length);
  for (let i = 0; i < list.length; i++) copy[i] = list[i];
  return copy;
}

/**
 * A membership test with `===` semantics. A Set uses SameValueZero, which differs
 * from `===` only for NaN, so NaN is left out of the Set (it can never match).
 */
function compileMembership(list: readonly unknown[]): (value: unknown) => boolean {
  const items = snapshotList(list);
  if (items.length > SET_THRESHOLD) {
    const set = new Set(items.filter((item) => !Number.isNaN(item)));
    return (value) => set.has(value);
  }
  if (items.length === 1) {
    const only = items[0];
    return (value) => value === only;
  }
  return (value) => {
    for (let i = 0; i < items.length; i++) if (items[i] === value) return true;
    return false;
  };
}

function compilePredicate(node: Node): CompiledCondition {
  const segments = splitPath(node.field as string);
  if (segments === null) return NEVER;
  const get = compileGetter(segments);
  const op = node.op as PredicateOperator;
  const expected = Object.hasOwn(node, 'value') ? node.value : undefined;
  switch (op) {
    case 'eq':
      return (s) => get(s) === expected;
    case 'neq':
      return (s) => get(s) !== expected;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (typeof expected !== 'number') return NEVER;
      if (op === 'gt') return (s) => { const v = get(s); return typeof v === 'number' && v > expected; };
      if (op === 'gte') return (s) => { const v = get(s); return typeof v === 'number' && v >= expected; };
      if (op === 'lt') return (s) => { const v = get(s); return typeof v === 'number' && v < expected; };
      return (s) => { const v = get(s); return typeof v === 'number' && v <= expected; };
    }
    case 'in':
    case 'nin': {
      if (!Array.isArray(expected)) return NEVER;
      const has = compileMembership(expected);
      return op === 'in' ? (s) => has(get(s)) : (s) => !has(get(s));
    }
    case 'exists': {
      if (expected === undefined) return (s) => { const v = get(s); return v !== null && v !== undefined; };
      if (expected === true) return (s) => { const v = get(s); return v !== null && v !== undefined; };
      if (expected === false) return (s) => { const v = get(s); return v === null || v === undefined; };
      return NEVER;
    }
    default:
      // Unreachable for validated trees; keep the interpreter's answer.
      return (s) => applyOperator(op, get(s), expected);
  }
}

function compileNode(node: Node): CompiledCondition {
  if (Object.hasOwn(node, 'all')) {
    const parts = (node.all as Node[]).map(compileNode);
    const [a, b, c] = parts;
    if (parts.length === 0) return ALWAYS;
    if (parts.length === 1 && a) return a;
    if (parts.length === 2 && a && b) return (s) => a(s) && b(s);
    if (parts.length === 3 && a && b && c) return (s) => a(s) && b(s) && c(s);
    return (s) => {
      for (let i = 0; i < parts.length; i++) if (!(parts[i] as CompiledCondition)(s)) return false;
      return true;
    };
  }
  if (Object.hasOwn(node, 'any')) {
    const parts = (node.any as Node[]).map(compileNode);
    const [a, b, c] = parts;
    if (parts.length === 0) return NEVER;
    if (parts.length === 1 && a) return a;
    if (parts.length === 2 && a && b) return (s) => a(s) || b(s);
    if (parts.length === 3 && a && b && c) return (s) => a(s) || b(s) || c(s);
    return (s) => {
      for (let i = 0; i < parts.length; i++) if ((parts[i] as CompiledCondition)(s)) return true;
      return false;
    };
  }
  if (Object.hasOwn(node, 'not')) {
    const inner = compileNode(node.not as Node);
    return (s) => !inner(s);
  }
  return compilePredicate(node);
}

// ---------------------------------------------------------------------------
// Code generation (opt-in).

class Emitter {
  readonly values: unknown[] = [];

  hold(value: unknown): string {
    this.values.push(value);
    return `v[${this.values.length - 1}]`;
  }

  /** Statements-free path read into `t`, one comma expression per step. */
  path(segments: readonly string[]): string {
    const steps = segments.map((key) => {
      const k = JSON.stringify(key);
      const other = key === 'length' ? `(typeof t === "string" ? t.length : undefined)` : 'undefined';
      return `t = (typeof t === "object" && t !== null) ? (h(t, ${k}) ? t[${k}] : undefined) : ${other}`;
    });
    return ['t = s', ...steps].join(', ');
  }

  node(node: Node): string {
    if (Object.hasOwn(node, 'all')) {
      const parts = (node.all as Node[]).map((child) => this.node(child));
      return parts.length === 0 ? 'true' : `(${parts.join(' && ')})`;
    }
    if (Object.hasOwn(node, 'any')) {
      const parts = (node.any as Node[]).map((child) => this.node(child));
      return parts.length === 0 ? 'false' : `(${parts.join(' || ')})`;
    }
    if (Object.hasOwn(node, 'not')) return `!${this.node(node.not as Node)}`;
    return this.predicate(node);
  }

  predicate(node: Node): string {
    const segments = splitPath(node.field as string);
    if (segments === null) return 'false';
    const read = this.path(segments);
    const op = node.op as PredicateOperator;
    const expected = Object.hasOwn(node, 'value') ? node.value : undefined;
    let test: string;
    switch (op) {
      case 'eq':
        test = `t === ${this.hold(expected)}`;
        break;
      case 'neq':
        test = `t !== ${this.hold(expected)}`;
        break;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        if (typeof expected !== 'number') return 'false';
        const symbol = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[op];
        test = `typeof t === "number" && t ${symbol} ${this.hold(expected)}`;
        break;
      }
      case 'in':
      case 'nin': {
        if (!Array.isArray(expected)) return 'false';
        const has = `${this.hold(compileMembership(expected))}(t)`;
        test = op === 'in' ? has : `!${has}`;
        break;
      }
      case 'exists': {
        if (expected === undefined || expected === true) test = 't !== null && t !== undefined';
        else if (expected === false) test = '(t === null || t === undefined)';
        else return 'false';
        break;
      }
      default:
        return 'false';
    }
    return `(${read}, ${test})`;
  }
}

function compileWithCodegen(node: Node): CompiledCondition | null {
  const emitter = new Emitter();
  const expression = emitter.node(node);
  const source = `"use strict"; return function compiledCondition(s) { let t; try { return ${expression}; } catch (e) { return false; } };`;
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- opt-in mode, see module comment.
    const factory = new Function('v', 'h', source) as (values: unknown[], has: typeof Object.hasOwn) => CompiledCondition;
    return factory(emitter.values, Object.hasOwn);
  } catch {
    // new Function is blocked (Content-Security-Policy): use closures instead.
    return null;
  }
}

/**
 * Compiles a condition tree into `(subject) => boolean`, giving the same result as
 * `evaluateCondition(when, subject)` for every subject. An undefined tree compiles
 * to "always true", a malformed one to "always false". Never throws.
 */
export function compileCondition(when: unknown, options?: CompileOptions): CompiledCondition {
  if (when === undefined) return ALWAYS;
  try {
    if (!isWellFormed(when)) return NEVER;
    if (options?.codegen === true) {
      const generated = compileWithCodegen(when as Node);
      if (generated !== null) return generated;
    }
    const compiled = compileNode(when as Node);
    return (subject) => {
      try {
        return compiled(subject);
      } catch {
        return false;
      }
    };
  } catch {
    return NEVER;
  }
}
