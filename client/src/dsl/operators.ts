/**
 * Operator semantics, in one place so the interpreter and the compiler cannot drift.
 *
 * - eq/neq: `===` / `!==` (no coercion; NaN never equals anything; objects by identity).
 * - gt/gte/lt/lte: true only when both sides are numbers.
 * - in/nin: the value must be an array; membership is `===` per element (NaN is never a member).
 * - exists: not null and not undefined; a boolean value compares existence with it.
 */
import type { PredicateOperator } from './types.js';

/** Membership by `===`, reading `list[i]` like the compiler's snapshot does. */
export function containsStrict(list: readonly unknown[], actual: unknown): boolean {
  for (let i = 0; i < list.length; i++) if (list[i] === actual) return true;
  return false;
}

export function applyOperator(op: PredicateOperator, actual: unknown, expected: unknown): boolean {
  switch (op) {
    case 'eq':
      return actual === expected;
    case 'neq':
      return actual !== expected;
    case 'gt':
      return typeof actual === 'number' && typeof expected === 'number' && actual > expected;
    case 'gte':
      return typeof actual === 'number' && typeof expected === 'number' && actual >= expected;
    case 'lt':
      return typeof actual === 'number' && typeof expected === 'number' && actual < expected;
    case 'lte':
      return typeof actual === 'number' && typeof expected === 'number' && actual <= expected;
    case 'in':
      return Array.isArray(expected) && containsStrict(expected, actual);
    case 'nin':
      // A non-array list is malformed, so `nin` is false too (not "vacuously not in").
      return Array.isArray(expected) && !containsStrict(expected, actual);
    case 'exists': {
      const present = actual !== null && actual !== undefined;
      if (expected === undefined) return present;
      return typeof expected === 'boolean' ? present === expected : false;
    }
    default:
      return false;
  }
}
