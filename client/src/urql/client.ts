/**
 * An urql client for the gateway: queries and mutations over HTTP (fetch),
 * subscriptions over graphql-ws on the same endpoint. Runs in browsers and in
 * Node 20+ (pass `webSocketImpl` from the `ws` package in Node).
 */
import { Client, type Exchange, fetchExchange, makeOperation, mapExchange, type RequestPolicy, stringifyDocument, subscriptionExchange } from '@urql/core';
import { type Client as WsClient, type ClientOptions as WsClientOptions, createClient as createWsClient } from 'graphql-ws';

export type TokenSource = string | (() => string | null | undefined);

export interface GatewayClientOptions {
  /**
   * The GraphQL endpoint, e.g. `https://gateway.example.com/graphql` (`ws(s)://` works too).
   * Relative URLs resolve against the page in a browser.
   */
  url: string;
  /** The graphql-ws endpoint; derived from `url` (http → ws, https → wss) when omitted. */
  wsUrl?: string;
  /**
   * A bearer token, or a function returning the current one (read on every HTTP request and
   * every WebSocket (re)connection). Sent as `Authorization: Bearer …` over HTTP and as
   * `{ authorization: 'Bearer …' }` in the graphql-ws `connection_init` payload.
   */
  token?: TokenSource;
  /** A fetch implementation; the global one by default. */
  fetch?: typeof fetch;
  /** A WebSocket constructor (the `ws` package in Node); the global one by default. */
  webSocketImpl?: unknown;
  /** Reconnection attempts of the WebSocket after a non-fatal close. Default 10. */
  retryAttempts?: number;
  /** Exponential backoff with jitter between reconnections. */
  retryDelay?: BackoffOptions;
  /** Exchanges placed before the transports, e.g. urql's `cacheExchange` or a retry exchange. */
  exchanges?: Exchange[];
  /** Default request policy. The client keeps no cache unless `exchanges` adds one. */
  requestPolicy?: RequestPolicy;
  /** Further graphql-ws options (`keepAlive`, `lazyCloseTimeout`, `on` listeners, ...). */
  ws?: Omit<Partial<WsClientOptions>, 'url' | 'webSocketImpl'>;
  /**
   * Send each operation as its sha256 (`extensions.persistedQuery.sha256Hash`) instead of its
   * text, over HTTP and WebSocket. The gateway knows the package's own documents by hash
   * (`persisted-operations.json`); others are refused, so turn this on only for those.
   */
  persistedOperations?: boolean;
}

/** An urql `Client` that also owns its graphql-ws connection. */
export type GatewayClient = Client & {
  /** The graphql-ws client carrying subscriptions (created on first use). */
  readonly ws: WsClient;
  /** Closes the WebSocket (its subscriptions end); HTTP keeps working, and a later subscription opens a new socket. */
  dispose(): Promise<void>;
};

export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. Default 500. */
  initialMs?: number;
  /** Largest delay, in ms. Default 30 000. */
  maxMs?: number;
}

/**
 * Delay before retry number `retries` (0-based): "equal jitter" exponential
 * backoff, uniformly in [ceiling / 2, ceiling] with ceiling = min(max, initial · 2^retries),
 * so that many clients dropped at once do not reconnect in lockstep.
 */
export function backoffDelay(retries: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialMs ?? 500);
  const max = Math.max(initial, options.maxMs ?? 30_000);
  const ceiling = Math.min(max, initial * 2 ** Math.min(Math.max(0, retries), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

const PROTOCOLS: Record<string, [http: string, ws: string]> = {
  'http:': ['http:', 'ws:'],
  'https:': ['https:', 'wss:'],
  'ws:': ['http:', 'ws:'],
  'wss:': ['https:', 'wss:'],
};

/** The HTTP and WebSocket URLs of one endpoint given as http(s) or ws(s). */
export function endpointUrls(url: string, wsUrl?: string): { http: string; ws: string } {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  const parsed = base === undefined ? new URL(url) : new URL(url, base);
  const pair = PROTOCOLS[parsed.protocol];
  if (pair === undefined) throw new TypeError(`the gateway URL must be http(s) or ws(s), got ${parsed.protocol}`);
  const http = new URL(parsed.href);
  http.protocol = pair[0];
  const ws = new URL(parsed.href);
  ws.protocol = pair[1];
  return { http: http.href, ws: wsUrl ?? ws.href };
}

const hashes = new Map<string, Promise<string>>();

/** Lowercase hex sha256 of `text` (WebCrypto: browsers and Node 20+). */
function sha256Hex(text: string): Promise<string> {
  let hash = hashes.get(text);
  if (!hash) {
    hash = globalThis.crypto.subtle
      .digest('SHA-256', new TextEncoder().encode(text))
      .then((digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join(''));
    hashes.set(text, hash);
  }
  return hash;
}

/** Replaces the query text by its hash; urql then sends `extensions` without `query`. */
const persistedExchange = mapExchange({
  onOperation: async (operation) => {
    const sha256Hash = await sha256Hex(stringifyDocument(operation.query));
    return makeOperation(operation.kind, { ...operation, extensions: { ...operation.extensions, persistedQuery: { version: 1, sha256Hash } } }, operation.context);
  },
});

function currentToken(token: TokenSource | undefined): string | null {
  const value = typeof token === 'function' ? token() : token;
  return typeof value === 'string' && value.length > 0 ? value : null;
}

export function createGatewayClient(options: GatewayClientOptions): GatewayClient {
  const urls = endpointUrls(options.url, options.wsUrl);
  // Created on first use, so that HTTP-only use needs no WebSocket implementation
  // (Node 20 has no global WebSocket; graphql-ws throws without one).
  let wsClient: WsClient | undefined;
  const ws = (): WsClient =>
    (wsClient ??= createWsClient({
      url: urls.ws,
      lazy: true,
      retryAttempts: options.retryAttempts ?? 10,
      retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, backoffDelay(retries, options.retryDelay))),
      // Any non-fatal problem (refused connection, dropped socket) is worth another try;
      // graphql-ws still stops at once on its fatal close codes (4400, 4401, 4406, 4409, 4429, 4500, ...).
      shouldRetry: () => true,
      // Read on every (re)connection, so a refreshed token is used after a reconnect.
      connectionParams: () => {
        const token = currentToken(options.token);
        return token === null ? {} : { authorization: `Bearer ${token}` };
      },
      ...(options.webSocketImpl !== undefined ? { webSocketImpl: options.webSocketImpl } : {}),
      ...options.ws,
    }));

  const client = new Client({
    url: urls.http,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    preferGetMethod: false,
    requestPolicy: options.requestPolicy ?? 'network-only',
    fetchOptions: () => {
      const token = currentToken(options.token);
      return token === null ? {} : { headers: { authorization: `Bearer ${token}` } };
    },
    exchanges: [
      ...(options.exchanges ?? []),
      // Asynchronous (hashing), so after the caller's exchanges, which may be synchronous caches.
      ...(options.persistedOperations ? [persistedExchange] : []),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: ws().subscribe({ ...request, query: request.query ?? '' }, sink),
          }),
        }),
      }),
    ],
  });

  return Object.defineProperties(client, {
    ws: { get: ws, enumerable: true },
    dispose: {
      value: async () => {
        const current = wsClient;
        wsClient = undefined;
        await current?.dispose();
      },
    },
  }) as GatewayClient;
}
