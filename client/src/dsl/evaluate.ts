/**
 * The reference interpreter. It validates the whole tree on every call (so a
 * malformed branch makes the result false even when short-circuiting would
 * skip it), then walks it. `compileCondition` does the validation once.
 */
import { applyOperator } from './operators.js';
import { getPathString } from './path.js';
import type { PredicateOperator } from './types.js';
import { isWellFormed } from './validate.js';

type Node = Record<string, unknown>;

function evalNode(node: Node, subject: unknown): boolean {
  if (Object.hasOwn(node, 'all')) {
    const children = node.all as Node[];
    for (let i = 0; i < children.length; i++) if (!evalNode(children[i] as Node, subject)) return false;
    return true;
  }
  if (Object.hasOwn(node, 'any')) {
    const children = node.any as Node[];
    for (let i = 0; i < children.length; i++) if (evalNode(children[i] as Node, subject)) return true;
    return false;
  }
  if (Object.hasOwn(node, 'not')) return !evalNode(node.not as Node, subject);
  // The tree was validated, so the field is a well-formed path.
  const expected = Object.hasOwn(node, 'value') ? node.value : undefined;
  return applyOperator(node.op as PredicateOperator, getPathString(subject, node.field as string), expected);
}

/**
 * Evaluates a condition tree against a subject. An undefined tree is true; a
 * malformed tree (anything `validateCondition` reports as an error) is false.
 * Never throws.
 */
export function evaluateCondition(when: unknown, subject: unknown): boolean {
  if (when === undefined) return true;
  try {
    if (!isWellFormed(when)) return false;
    return evalNode(when as Node, subject);
  } catch {
    // Throwing getters or proxies in the subject: treat as "condition not met".
    return false;
  }
}
