// Persisted operations: a manifest (sha256 of a document's text → the text)
// built from the client package's documents. A request may name a document by
// hash (Apollo's `extensions.persistedQuery.sha256Hash`, or `documentId`); in
// persisted-only mode (SYNAPSE_PERSISTED_ONLY) nothing else runs: a query text
// is accepted only when it is, byte for byte, a document of the manifest.
// Transport-neutral: the HTTP plugin and the graphql-ws adapter both call `resolve`.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GraphQLError } from 'graphql';
import { z } from 'zod';

export const PERSISTED_CODES = {
  notFound: 'persisted_query_not_found',
  required: 'persisted_query_required',
  invalid: 'persisted_query_invalid',
} as const;

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

const HASH = /^[0-9a-f]{64}$/;

const manifestSchema = z
  .record(z.string().regex(HASH, 'keys are lowercase sha256 hex digests'), z.string().min(1, 'documents are not empty'))
  .superRefine((manifest, ctx) => {
    for (const [hash, text] of Object.entries(manifest)) {
      if (sha256Hex(text) !== hash) ctx.addIssue({ code: 'custom', path: [hash], message: 'is not the sha256 of its document' });
    }
  });

/** The manifest the client package ships (`@synapse-gateway/client/persisted-operations.json`). */
export function defaultManifestPath(): string {
  return createRequire(import.meta.url).resolve('@synapse-gateway/client/persisted-operations.json');
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function loadManifest(path: string): ReadonlyMap<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ManifestError(`could not read the persisted-operations manifest: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    // A bad key's own message sits one level down (zod reports "Invalid key in record").
    const message = first.code === 'invalid_key' ? (first.issues[0]?.message ?? first.message) : first.message;
    throw new ManifestError(`the persisted-operations manifest is invalid at ${first.path.join('.') || '(root)'}: ${message}`);
  }
  return new Map(Object.entries(parsed.data));
}

export interface PersistedOperations {
  /** Refuse query texts that are not in the manifest. */
  only: boolean;
  byHash: ReadonlyMap<string, string>;
}

/** What a request carries that can name its document. */
export interface OperationRequest {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

export type Resolved = { ok: true; query: string | undefined } | { ok: false; error: GraphQLError };

const refuse = (message: string, code: string): Resolved => ({ ok: false, error: new GraphQLError(message, { extensions: { code, http: { status: 400 } } }) });

function requestedHash(request: OperationRequest): unknown {
  const ext = request.extensions;
  const persisted = typeof ext === 'object' && ext !== null ? (ext as { persistedQuery?: unknown }).persistedQuery : undefined;
  if (typeof persisted === 'object' && persisted !== null && 'sha256Hash' in persisted) return (persisted as { sha256Hash: unknown }).sha256Hash;
  return request.documentId ?? undefined;
}

/** The query text to run for `request`, or why it may not run. `query: undefined` leaves the request as it was. */
export function resolvePersisted(store: PersistedOperations, request: OperationRequest): Resolved {
  const hash = requestedHash(request);
  if (hash !== undefined && hash !== null) {
    const id = typeof hash === 'string' ? hash.replace(/^sha256:/, '') : '';
    if (!HASH.test(id)) return refuse('A persisted operation is named by a lowercase sha256 hex digest.', PERSISTED_CODES.invalid);
    const text = store.byHash.get(id);
    if (text === undefined) return refuse('No persisted operation has this hash.', PERSISTED_CODES.notFound);
    return { ok: true, query: text };
  }
  if (!store.only) return { ok: true, query: undefined };
  if (typeof request.query === 'string' && store.byHash.has(sha256Hex(request.query))) return { ok: true, query: undefined };
  return refuse('This gateway runs persisted operations only: send extensions.persistedQuery.sha256Hash (or documentId) of a known document.', PERSISTED_CODES.required);
}
