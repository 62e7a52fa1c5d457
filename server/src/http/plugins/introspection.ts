// Guards the schema's shape when introspection is off (SYNAPSE_INTROSPECTION=false):
// a validation rule refuses `__schema` and `__type` (and so GraphiQL's query),
// and "Did you mean …?" suggestions, which would leak field, argument, type and
// enum names one typo at a time, are cut from every error. Envelop hooks, so
// this holds on HTTP, SSE and graphql-ws alike. `__typename` stays allowed.
import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const INTROSPECTION_DISABLED = 'introspection_disabled';

// The only ways into the introspection types; one error per entry, not one per nested field.
const ENTRY_FIELDS = new Set(['__schema', '__type']);

export const noIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    if (ENTRY_FIELDS.has(node.name.value)) {
      context.reportError(
        new GraphQLError(`Introspection is disabled on this gateway (field "${node.name.value}").`, { nodes: node, extensions: { code: INTROSPECTION_DISABLED } }),
      );
    }
  },
});

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** Removes suggestions in place: the error objects are fresh per document (or cached per document). */
function hideSuggestions(errors: readonly Error[] | undefined): void {
  for (const error of errors ?? []) {
    const hidden = error.message.replace(SUGGESTION, '');
    if (hidden !== error.message) (error as { message: string }).message = hidden;
  }
}

type MaybeResult = { errors?: readonly Error[] } | AsyncIterable<unknown>;
const resultErrors = (result: MaybeResult) => (Symbol.asyncIterator in result ? undefined : result.errors);

export function useNoIntrospection(): Plugin<Record<string, unknown>> {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noIntrospectionRule);
      return ({ result }) => hideSuggestions(result);
    },
    // Variable coercion ("Value "X" does not exist in "Enum" enum. Did you mean …?") fails at execution.
    onExecute: () => ({ onExecuteDone: ({ result }) => hideSuggestions(resultErrors(result as MaybeResult)) }),
    onSubscribe: () => ({ onSubscribeResult: ({ result }) => hideSuggestions(resultErrors(result as MaybeResult)) }),
  };
}
