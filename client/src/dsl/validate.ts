/**
 * Structural validation of condition trees.
 *
 * One walker serves two callers: `validateCondition` collects every issue with
 * its path, and `isWellFormed` (used by evaluation and compilation) stops at the
 * first error. Sharing the walker keeps "evaluates to false" and "has an error"
 * exactly the same notion.
 */
import { MAX_CONDITION_DEPTH } from './limits.js';
import { joinIndex, joinKey, PROTOTYPE_KEYS, splitPath } from './path.js';
import type { DslIssue, PredicateOperator } from './types.js';

export const OPERATORS: ReadonlySet<string> = new Set<PredicateOperator>([
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'exists',
]);

const COMPARISONS: ReadonlySet<string> = new Set(['gt', 'gte', 'lt', 'lte']);
const PREDICATE_KEYS: ReadonlySet<string> = new Set(['field', 'op', 'value']);
const ALL_KEYS: ReadonlySet<string> = new Set(['all']);
const ANY_KEYS: ReadonlySet<string> = new Set(['any']);
const NOT_KEYS: ReadonlySet<string> = new Set(['not']);
const NO_KEYS: ReadonlySet<string> = new Set();

/** Same answer as `splitPath(path) !== null`, without allocating (evaluation validates on every call). */
function isValidPath(path: string): boolean {
  return path.length > 0 && path.charCodeAt(0) !== 46 && path.charCodeAt(path.length - 1) !== 46 && !path.includes('..');
}

/** Collects issues, or (when `issues` is null) signals the first error by returning false. */
interface Sink {
  issues: DslIssue[] | null;
}

function report(sink: Sink, path: string, code: string, message: string, severity: 'error' | 'warning' = 'error'): void {
  if (sink.issues !== null) {
    sink.issues.push(severity === 'error' ? { path, code, message } : { path, code, message, severity });
  }
}

/** Lazily extends a path: building strings only matters when issues are collected. */
function sub(sink: Sink, path: string, key: string): string {
  return sink.issues === null ? path : joinKey(path, key);
}

function subIndex(sink: Sink, path: string, index: number): string {
  return sink.issues === null ? path : joinIndex(path, index);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function checkNode(node: unknown, path: string, depth: number, sink: Sink): boolean {
  if (depth > MAX_CONDITION_DEPTH) {
    report(sink, path, 'max_depth', `condition nesting exceeds ${MAX_CONDITION_DEPTH} levels`);
    return false;
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    report(sink, path, 'invalid_node', `a condition must be an object, got ${describe(node)}`);
    return false;
  }
  const hasAll = Object.hasOwn(node, 'all');
  const hasAny = Object.hasOwn(node, 'any');
  const hasNot = Object.hasOwn(node, 'not');
  const hasPredicate = Object.hasOwn(node, 'field') || Object.hasOwn(node, 'op') || Object.hasOwn(node, 'value');
  const kinds = Number(hasAll) + Number(hasAny) + Number(hasNot) + Number(hasPredicate);
  const record = node as Record<string, unknown>;

  if (kinds === 0) {
    report(sink, path, 'empty_node', 'a condition needs one of `all`, `any`, `not`, or `field`/`op`');
    if (sink.issues === null) return false;
    reportUnknownKeys(record, path, NO_KEYS, sink);
    return false;
  }
  if (kinds > 1) {
    const present = [hasAll && '`all`', hasAny && '`any`', hasNot && '`not`', hasPredicate && 'a predicate'].filter(Boolean);
    report(sink, path, 'ambiguous_node', `a condition must have exactly one of \`all\`, \`any\`, \`not\` or a predicate; found ${present.join(', ')}`);
    return false;
  }

  let ok = true;
  if (hasAll || hasAny) {
    const key = hasAll ? 'all' : 'any';
    ok = reportUnknownKeys(record, path, hasAll ? ALL_KEYS : ANY_KEYS, sink) && ok;
    if (!ok && sink.issues === null) return false;
    const children = record[key];
    if (!Array.isArray(children)) {
      report(sink, sub(sink, path, key), 'invalid_children', `\`${key}\` must be an array of conditions, got ${describe(children)}`);
      return false;
    }
    const childPath = sub(sink, path, key);
    for (let i = 0; i < children.length; i++) {
      if (!checkNode(children[i], subIndex(sink, childPath, i), depth + 1, sink)) {
        ok = false;
        if (sink.issues === null) return false;
      }
    }
    return ok;
  }
  if (hasNot) {
    ok = reportUnknownKeys(record, path, NOT_KEYS, sink) && ok;
    if (!ok && sink.issues === null) return false;
    return checkNode(record.not, sub(sink, path, 'not'), depth + 1, sink) && ok;
  }
  ok = reportUnknownKeys(record, path, PREDICATE_KEYS, sink) && ok;
  if (!ok && sink.issues === null) return false;
  return checkPredicate(record, path, sink) && ok;
}

function reportUnknownKeys(record: Record<string, unknown>, path: string, allowed: ReadonlySet<string>, sink: Sink): boolean {
  let ok = true;
  for (const key of Object.keys(record)) {
    if (allowed.has(key)) continue;
    report(sink, sub(sink, path, key), 'unknown_key', `unknown key \`${key}\` in a condition`);
    ok = false;
    if (sink.issues === null) return false;
  }
  return ok;
}

function checkPredicate(record: Record<string, unknown>, path: string, sink: Sink): boolean {
  // In bail-out mode (sink.issues === null) every failure returns at once, without allocating.
  const collecting = sink.issues !== null;
  let ok = true;

  const field = record.field;
  if (!Object.hasOwn(record, 'field') || field === undefined) {
    if (!collecting) return false;
    report(sink, joinKey(path, 'field'), 'missing_field', 'a predicate needs a `field`');
    ok = false;
  } else if (typeof field !== 'string' || field.length === 0) {
    if (!collecting) return false;
    report(sink, joinKey(path, 'field'), 'invalid_field', `\`field\` must be a non-empty string, got ${describe(field)}`);
    ok = false;
  } else if (!isValidPath(field)) {
    if (!collecting) return false;
    report(sink, joinKey(path, 'field'), 'invalid_path', `\`field\` "${field}" has an empty path segment`);
    ok = false;
  } else if (collecting && (splitPath(field) ?? []).some((segment) => PROTOTYPE_KEYS.has(segment))) {
    report(sink, joinKey(path, 'field'), 'prototype_key', `\`field\` "${field}" names a prototype key; it always resolves to undefined`, 'warning');
  }

  const op = record.op;
  if (!Object.hasOwn(record, 'op') || op === undefined) {
    report(sink, sub(sink, path, 'op'), 'missing_op', 'a predicate needs an `op`');
    return false;
  }
  if (typeof op !== 'string' || !OPERATORS.has(op)) {
    if (collecting) {
      const shown = typeof op === 'string' ? `"${op}"` : describe(op);
      report(sink, joinKey(path, 'op'), 'unknown_operator', `unknown operator ${shown}; expected one of ${[...OPERATORS].join(', ')}`);
    }
    return false;
  }

  // `value: undefined` counts as absent: YAML and JSON cannot tell the two apart.
  const value = record.value;
  const hasValue = Object.hasOwn(record, 'value') && value !== undefined;
  let problem: [code: string, message: string] | null = null;
  if (op === 'eq' || op === 'neq') {
    if (!hasValue) problem = ['missing_value', `\`${op}\` needs a \`value\``];
    else if (collecting && typeof value === 'object' && value !== null) {
      report(sink, joinKey(path, 'value'), 'identity_comparison', `\`${op}\` compares with ===; an object or array value never equals a field read from data`, 'warning');
    }
  } else if (COMPARISONS.has(op)) {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      if (!collecting) return false;
      const got = hasValue ? (typeof value === 'number' ? 'NaN' : describe(value)) : 'nothing';
      problem = [hasValue ? 'invalid_value' : 'missing_value', `\`${op}\` needs a number \`value\`, got ${got}`];
    }
  } else if (op === 'in' || op === 'nin') {
    if (!Array.isArray(value)) {
      if (!collecting) return false;
      problem = [hasValue ? 'invalid_value' : 'missing_value', `\`${op}\` needs an array \`value\`, got ${hasValue ? describe(value) : 'nothing'}`];
    }
  } else if (hasValue && typeof value !== 'boolean') {
    // exists: the value is optional, but when given it must be a boolean.
    if (!collecting) return false;
    problem = ['invalid_value', `\`exists\` takes an optional boolean \`value\`, got ${describe(value)}`];
  }
  if (problem !== null) {
    if (!collecting) return false;
    report(sink, joinKey(path, 'value'), problem[0], problem[1]);
    return false;
  }
  return ok;
}

/**
 * Every structural issue of a condition tree, with paths rooted at `when`.
 * An undefined tree is valid (it means "always").
 */
export function validateCondition(when: unknown): DslIssue[] {
  if (when === undefined) return [];
  const sink: Sink = { issues: [] };
  try {
    checkNode(when, 'when', 1, sink);
  } catch {
    // Only reachable through exotic inputs (throwing getters, proxies).
    sink.issues?.push({ path: 'when', code: 'unreadable', message: 'the condition could not be read' });
  }
  return sink.issues ?? [];
}

/** True when the tree has no error-severity issue; undefined counts as well formed. */
export function isWellFormed(when: unknown): boolean {
  if (when === undefined) return true;
  try {
    return checkNode(when, 'when', 1, { issues: null });
  } catch {
    return false;
  }
}
