/**
 * The persisted-operations manifest: every operation in documents.ts, the
 * CLI's documents and watchRun's default subscription, keyed by
 * the sha256 (lowercase hex) of the exact text the urql client sends for it.
 * A gateway in persisted-only mode (SYNAPSE_PERSISTED_ONLY=true) runs these
 * documents and nothing else. Build-time only (uses node:crypto): written to
 * `client/persisted-operations.json` by `npm run persisted:build`.
 */
import { createHash } from 'node:crypto';
import { createRequest, stringifyDocument } from '@urql/core';
import { Kind, type DocumentNode } from 'graphql';
import * as cliDocuments from '../cli/gateway.js';
import * as documents from './documents.js';
import { runEventsDocument } from './watch-run.js';

const isOperationDocument = (value: unknown): value is DocumentNode =>
  typeof value === 'object' &&
  value !== null &&
  (value as DocumentNode).kind === Kind.DOCUMENT &&
  (value as DocumentNode).definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION);

/** The text urql puts in `query` for this document (the manifest must hold exactly that). */
export const wireText = (document: DocumentNode | string): string => stringifyDocument(createRequest(document, {}).query);

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** hash → text, sorted by hash so the file is stable. */
export function buildPersistedManifest(): Record<string, string> {
  const entries = [...Object.values(documents).filter(isOperationDocument), ...Object.values(cliDocuments).filter(isOperationDocument), runEventsDocument()]
    .map((document) => {
      const text = wireText(document);
      return [sha256Hex(text), text] as const;
    })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

export const printPersistedManifest = (): string => `${JSON.stringify(buildPersistedManifest(), null, 2)}\n`;
