// Shared execution of subscription events: subscribers that run the same
// document, operation and variables with the same tenant and scopes get the
// same result for the same source event, so the selection set is executed
// once per event and sharing key instead of once per subscriber (1,000 tabs
// watching one run cost one execution per event). Only the payload → result
// mapping is shared: each subscriber still resolves its own root field
// (authorization, revocation, replay) and its own event stream.
import type { DocumentNode } from 'graphql';

/**
 * Who may share a result: everything the resolvers under a subscription's
 * root field may read besides the event itself. Resolvers there must depend
 * on nothing else of the context (not the key id, not the request).
 */
export interface SharingScope {
  tenant: string;
  scopes: Iterable<string>;
}

export interface SharingInput {
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Readonly<Record<string, unknown>> | null;
  scope: SharingScope;
}

const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

/**
 * The key under which a subscription shares results. Documents are told apart
 * by identity (Yoga's parser cache hands out one object per query text; an
 * uncached copy merely shares with nobody), variables by their JSON.
 */
export function sharingKey(input: SharingInput): string {
  let documentId = documentIds.get(input.document);
  if (documentId === undefined) documentIds.set(input.document, (documentId = ++nextDocumentId));
  const scopes = [...input.scope.scopes].sort();
  return JSON.stringify([documentId, input.operationName ?? null, input.variableValues ?? null, input.scope.tenant, scopes]);
}

/**
 * Results per source event object and sharing key. An event object lives as
 * long as some subscriber still holds it, and its entries with it (WeakMap);
 * an event that is not an object (or is one subscriber's own, like a replayed
 * row) is simply computed for that subscriber.
 */
export function createExecutionMemo<R>() {
  const byPayload = new WeakMap<object, Map<string, R>>();
  return {
    /** `compute()`'s result for this payload and key, computed once while the payload lives. */
    get(payload: unknown, key: string, compute: () => R): R {
      if (typeof payload !== 'object' || payload === null) return compute();
      let results = byPayload.get(payload);
      if (!results) byPayload.set(payload, (results = new Map()));
      if (results.has(key)) return results.get(key) as R;
      const result = compute();
      results.set(key, result);
      return result;
    },
  };
}
