import { getIntrospectionQuery, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../graphql/schema/index.js';
import { queryLimitRules } from './query-limits.js';

const DEFAULTS = { maxDepth: 12, maxAliases: 30, maxDirectives: 50, maxTokens: 5_000, maxCost: 20_000 };
const check = (query: string, limits = DEFAULTS) =>
  validate(schema, parse(query, { maxTokens: limits.maxTokens }), [...specifiedRules, ...queryLimitRules(limits)]).map((e) => [e.extensions.code, e.message]);

describe('queryLimitRules', () => {
  it("lets GraphiQL's introspection query through (introspection is exempt from depth and cost)", () => {
    expect(check(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }))).toEqual([]);
  });

  it('reports each limit once, with its code', () => {
    expect(check('{ a: __typename b: __typename }', { ...DEFAULTS, maxAliases: 1 })).toEqual([['too_many_aliases', 'Aliases limit of 1 exceeded, found 2.']]);
    expect(check('{ __typename @skip(if: false) __typename @include(if: true) }', { ...DEFAULTS, maxDirectives: 1 })).toEqual([['too_many_directives', 'Directives limit of 1 exceeded, found 2.']]);
    expect(check('{ actionDefinitions { nodes { id } } }', { ...DEFAULTS, maxDepth: 2 })).toEqual([['query_too_deep', 'Query depth limit of 2 exceeded, found 3.']]);
    expect(check('{ actionDefinitions(first: 10) { nodes { id } } }', { ...DEFAULTS, maxCost: 10 })).toEqual([['query_too_costly', 'Query Cost limit of 10 exceeded, found 72.5.']]);
  });

  it('stays finite on fragment cycles (graphql-js reports the cycle)', () => {
    expect(check('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }').map(([code]) => code)).toEqual([undefined]);
  });
});
