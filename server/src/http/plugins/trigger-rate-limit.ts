// Guards the trigger mutations (`triggerAction`, `runActionDefinition`)
// against floods: each selection of one costs a token from the caller's
// per-key and per-IP buckets, and an operation that cannot pay runs not at
// all (`rate_limited`, HTTP 429 with Retry-After). Hooked at execution, so
// the same limit holds on HTTP and graphql-ws; the REST trigger routes share
// the limiter (rest/triggers.ts).
import { type DocumentNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import type { RateLimiter } from '../rate-limit.js';

export const TRIGGER_FIELDS: ReadonlySet<string> = new Set(['triggerAction', 'runActionDefinition']);

/** Who is asking, as the GraphQL context tells it. */
export interface RateLimitIdentity {
  clientIp?: string | null;
  rateLimitKey?: string | null;
}

/** How many trigger fields the mutation selects at its root (aliases count, fragments included). */
export function countTriggerFields(document: DocumentNode, operationName: string | null | undefined): number {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (operation?.operation !== 'mutation') return 0;
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  const seen = new Set<string>();
  const count = (set: SelectionSetNode): number => {
    let n = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) n += TRIGGER_FIELDS.has(selection.name.value) ? 1 : 0;
      else if (selection.kind === Kind.INLINE_FRAGMENT) n += count(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        // Validation already refused cycles; `seen` only keeps this walk finite regardless.
        seen.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) n += count(fragment);
      }
    }
    return n;
  };
  return count(operation.selectionSet);
}

export function rateLimitedError(retryAfterMs: number, what: string) {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return createGraphQLError(`Too many ${what}; retry in ${seconds} s.`, {
    extensions: { code: 'rate_limited', retryAfterMs, http: { status: 429, headers: { 'Retry-After': String(seconds) } } },
  });
}

export function useTriggerRateLimit(limiter: RateLimiter): Plugin<Record<string, unknown>> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = countTriggerFields(args.document, args.operationName);
      if (cost === 0) return;
      const who = args.contextValue as RateLimitIdentity;
      const decision = limiter.take({ key: who.rateLimitKey, ip: who.clientIp }, cost);
      if (!decision.ok) setResultAndStopExecution({ errors: [rateLimitedError(decision.retryAfterMs, 'triggers')] });
    },
  };
}
