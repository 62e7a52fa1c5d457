// Guards the database from strings it cannot store: a NUL character (U+0000)
// or an unpaired surrogate in any string argument, literal or variable, is
// refused with `invalid_text` before a resolver runs. Postgres text and jsonb
// would otherwise fail inside a transaction with a masked error. A validation
// rule and execute/subscribe hooks, so it holds on HTTP, SSE and graphql-ws.
import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { unstorableStringPath } from '../../protocol/json.js';

export const INVALID_TEXT = 'invalid_text';

const MESSAGE = 'contains a NUL character (\\u0000) or an unpaired surrogate, which cannot be stored';

const isUnstorable = (s: string) => s.includes('\u0000') || !s.isWellFormed();

export const storableStringsRule: ValidationRule = (context) => ({
  StringValue(node) {
    if (isUnstorable(node.value)) context.reportError(new GraphQLError(`A string literal ${MESSAGE}.`, { nodes: node, extensions: { code: INVALID_TEXT } }));
  },
});

function refusal(variables: unknown): GraphQLError | null {
  if (variables === null || variables === undefined) return null;
  const path = unstorableStringPath(variables);
  if (path === null) return null;
  const field = `$${path}`;
  return new GraphQLError(`Variable ${field} ${MESSAGE}.`, { extensions: { code: INVALID_TEXT, field } });
}

export function useStorableStrings(): Plugin<Record<string, unknown>> {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(storableStringsRule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const error = refusal(args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const error = refusal(args.variableValues);
      if (error) setResultAndStopExecution({ errors: [error] });
    },
  };
}
