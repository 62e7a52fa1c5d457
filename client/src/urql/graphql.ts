/**
 * The typed `graphql()` function for the gateway's schema (gql.tada: types are
 * inferred from the document text by TypeScript; there is no build step).
 *
 * `graphql-env.d.ts` beside this file is the schema's introspection as a type,
 * generated from `schema.graphql` by `npm run client:generate`; a test fails
 * when it is out of date.
 */
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.js';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    /** Any JSON value. */
    JSON: unknown;
    /** RFC 3339 in UTC, as sent over the wire (e.g. 2026-01-04T12:00:00.000Z). */
    DateTime: string;
  };
  // Fragments are plain, unmasked selections: results read like the schema.
  disableMasking: true;
}>();

export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from 'gql.tada';
