// Guards the database from strings it cannot store: a NUL character (U+0000)
// or an unpaired surrogate in a string argument (an id, a filter, a name) is
// refused with `invalid_text` before a resolver runs. Postgres text and jsonb
// would otherwise fail with a masked error. Input objects are left to their own
// validators, which answer with the field's typed error (invalid_title,
// invalid_input, …). Execute and subscribe hooks: HTTP, SSE and graphql-ws alike.
import { type DocumentNode, GraphQLError, Kind, type ValueNode, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isUnstorableString as isUnstorable, UNSTORABLE_MESSAGE } from '../../protocol/json.js';

export const INVALID_TEXT = 'invalid_text';


/** What to check of a document, in its arguments' order: a literal found unstorable, or a variable. */
type Check = { field: string; variable?: string };

/**
 * A document's checks, worked out once: documents come from Yoga's parse
 * cache, and walking every document on every request cost ~40 µs.
 */
const plans = new WeakMap<DocumentNode, Check[]>();

function planOf(document: DocumentNode): Check[] {
  let plan = plans.get(document);
  if (plan) return plan;
  const checks: Check[] = [];
  const add = (value: ValueNode, name: string): void => {
    if (value.kind === Kind.STRING && isUnstorable(value.value)) checks.push({ field: name });
    else if (value.kind === Kind.LIST) for (const item of value.values) add(item, name);
    else if (value.kind === Kind.VARIABLE) checks.push({ field: `$${value.name.value}`, variable: value.name.value });
  };
  visit(document, {
    Argument(node) {
      add(node.value, node.name.value);
    },
  });
  plan = checks;
  plans.set(document, plan);
  return plan;
}

/** The first string argument (literal, variable or list of them) that cannot be stored. */
function unstorableArgument(document: DocumentNode, variables: Record<string, unknown>): { field: string } | null {
  for (const check of planOf(document)) {
    if (check.variable === undefined) return check;
    const bound = variables[check.variable];
    if (typeof bound === 'string' ? isUnstorable(bound) : Array.isArray(bound) && bound.some((s) => typeof s === 'string' && isUnstorable(s))) return check;
  }
  return null;
}

function refusal(document: DocumentNode, variables: unknown): GraphQLError | null {
  const found = unstorableArgument(document, (variables ?? {}) as Record<string, unknown>);
  if (!found) return null;
  return new GraphQLError(`Argument ${found.field} ${UNSTORABLE_MESSAGE}.`, { extensions: { code: INVALID_TEXT, field: found.field } });
}

export function useStorableStrings(): Plugin<Record<string, unknown>> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const error = refusal(args.document, args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refusal(args.document, args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
