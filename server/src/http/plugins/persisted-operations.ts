// Guards which documents run over HTTP and SSE (graphql-ws calls the same
// `resolvePersisted` in its onSubscribe, since this hook is HTTP-only): swaps
// a persisted operation's hash for its text, and in persisted-only mode
// refuses any other text. Runs before Yoga checks the params, so `documentId`
// (not one of Yoga's parameters) is consumed here.
import type { Plugin } from 'graphql-yoga';
import { type PersistedOperations, resolvePersisted } from '../persisted-operations.js';

export function usePersistedOperations(store: PersistedOperations): Plugin<Record<string, unknown>> {
  return {
    onParams({ params, setParams }) {
      const raw = params as typeof params & { documentId?: unknown };
      const resolved = resolvePersisted(store, raw);
      if (!resolved.ok) throw resolved.error;
      if (resolved.query === undefined && raw.documentId === undefined) return;
      const { documentId: _documentId, ...rest } = raw;
      setParams({ ...rest, query: resolved.query ?? rest.query });
    },
  };
}
