/**
 * @synapse-gateway/client/urql: an urql client for the gateway with typed
 * documents for its operations (gql.tada) and `watchRun` for run events.
 * No Node-only imports: runs in browsers and in Node (pass `webSocketImpl`).
 */
export { backoffDelay, createGatewayClient, endpointUrls } from './client.js';
export type { BackoffOptions, GatewayClient, GatewayClientOptions, TokenSource } from './client.js';
export { graphql } from './graphql.js';
export type { FragmentOf, ResultOf, TadaDocumentNode, VariablesOf } from './graphql.js';
export * from './documents.js';
export { DEFAULT_RUN_EVENT_FIELDS, runEventsDocument, watchRun } from './watch-run.js';
export type { RunEvent, RunWatch, RunWatchEnd, WatchRunOptions } from './watch-run.js';
export { CombinedError } from '@urql/core';
