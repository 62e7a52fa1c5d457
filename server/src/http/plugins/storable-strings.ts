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


/** The first string argument (literal, variable or list of them) that cannot be stored. */
function unstorableArgument(document: DocumentNode, variables: Record<string, unknown>): { field: string } | null {
  let found: { field: string } | null = null;
  const check = (value: ValueNode, name: string): void => {
    if (found) return;
    if (value.kind === Kind.STRING && isUnstorable(value.value)) found = { field: name };
    else if (value.kind === Kind.LIST) for (const item of value.values) check(item, name);
    else if (value.kind === Kind.VARIABLE) {
      const bound = variables[value.name.value];
      const strings = Array.isArray(bound) ? bound : [bound];
      if (strings.some((s) => typeof s === 'string' && isUnstorable(s))) found = { field: `$${value.name.value}` };
    }
  };
  visit(document, {
    Argument(node) {
      check(node.value, node.name.value);
    },
  });
  return found;
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
