// Guards the cost of one GraphQL document before it runs: tokens (at parse),
// depth, aliases, directives and an estimated cost (at validation). Envelop
// hooks, so the limits hold wherever `yoga.getEnveloped` parses and validates:
// HTTP, SSE and graphql-ws alike. Every refusal carries `extensions.code`.
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, type ValidationContext } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
  maxCost: number;
}

export const LIMIT_CODES = {
  depth: 'query_too_deep',
  aliases: 'too_many_aliases',
  directives: 'too_many_directives',
  tokens: 'too_many_tokens',
  cost: 'query_too_costly',
} as const;

/**
 * graphql-armor reports "Syntax Error: <what>" with no code; we report the
 * same finding through the validation context (so graphql-js collects it like
 * its own errors) with a code and without the misleading prefix.
 */
const report = (code: string) => ({
  propagateOnRejection: false,
  onReject: [
    (context: ValidationContext | null, error: GraphQLError) => {
      context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, ''), { extensions: { code } }));
    },
  ],
});

/** The validation rules, also used by tests to check the client's own documents. */
export function queryLimitRules(limits: QueryLimits) {
  return [
    maxDepthRule({ n: limits.maxDepth, ...report(LIMIT_CODES.depth) }),
    // No allow-list: a thousand aliases of __typename are as much a bomb as any.
    maxAliasesRule({ n: limits.maxAliases, allowList: [], ...report(LIMIT_CODES.aliases) }),
    maxDirectivesRule({ n: limits.maxDirectives, ...report(LIMIT_CODES.directives) }),
    costLimitRule({ maxCost: limits.maxCost, ...report(LIMIT_CODES.cost) }),
  ];
}

const TOKEN_LIMIT = /Document contains more that \d+ tokens/;

export function useQueryLimits(limits: QueryLimits): Plugin<Record<string, unknown>> {
  const rules = queryLimitRules(limits);
  return {
    onParse({ parseFn, setParseFn }) {
      setParseFn((source, options) => {
        try {
          // graphql-js counts tokens itself and stops lexing past the limit.
          return parseFn(source, { ...options, maxTokens: limits.maxTokens });
        } catch (error) {
          if (error instanceof Error && TOKEN_LIMIT.test(error.message)) {
            throw createGraphQLError(`Token limit of ${limits.maxTokens} exceeded.`, {
              extensions: { code: LIMIT_CODES.tokens, http: { status: 400 } },
            });
          }
          throw error;
        }
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
  };
}
