// graphql-ws adapter: GraphQL over WebSocket on the same port and path as HTTP.
// Operations run through Yoga's envelop pipeline, so the schema, context and
// plugins (error masking, JIT, query limits, introspection, trigger rate limit)
// are the same as over HTTP and SSE. What Yoga checks only in HTTP phases is
// done here: persisted operations (onSubscribe), frame size (maxPayload, close
// 1009), connections per IP (HTTP 429 at the upgrade). graphql-ws enforces the
// protocol edges (4400, 4401, 4408, 4409); dead peers are pinged and reaped.
import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { AuthFailure } from '../auth/keys.js';
import type { Principal } from '../auth/principal.js';
import type { Result } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type PersistedOperations, resolvePersisted } from './persisted-operations.js';
import { CoalescingWebSocket } from './ws-socket.js';
import { newRequestInfo, type RequestInfo } from './plugins/operation-info.js';

/** graphql-ws closes a socket that sent no connection_init by then (4408). */
export const CONNECTION_INIT_TIMEOUT_MS = 3_000;

interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

export interface GraphqlWsOptions {
  path: string;
  /** Largest accepted frame; bigger frames close the socket with 1009. */
  maxPayloadBytes: number;
  logger: Logger;
  metrics: Metrics;
  persisted: PersistedOperations;
  /** Open sockets per client address; the next upgrade is refused with HTTP 429. */
  maxConnectionsPerIp: number;
  /** Ping period; a socket that has not answered a ping one period later is terminated. */
  keepAliveMs: number;
  /** Checks `connection_init`'s `authorization`; a failure closes the socket with 4403. */
  authenticate: (authorization: string | undefined) => Promise<Result<Principal, AuthFailure>>;
  /** Calls back when the principal's key is revoked or expires; returns the unwatch. */
  watch: (principal: Principal, onEnded: (reason: string) => void) => () => void;
}

/** What the adapter keeps per socket, beside graphql-ws's own. */
type SocketAuth = {
  principal?: Principal;
  unwatch?: () => void;
};

/** `{ authorization }` (or `Authorization`) from connection_init; the upgrade request's header otherwise. */
function presentedAuthorization(params: Readonly<Record<string, unknown>> | undefined, header: string | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  if (typeof value === 'string') return value;
  return header;
}

/** Strips Yoga's HTTP-only error extension (status, headers) from what goes over the socket. */
function withoutHttp(error: GraphQLError): GraphQLError {
  if (!error.extensions || !('http' in error.extensions)) return error;
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions });
}

const clientAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

// biome-ignore lint: Yoga's generic parameters are the gateway's own.
type AnyYoga = YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;

export function attachGraphqlWs(server: Server, yoga: AnyYoga, options: GraphqlWsOptions) {
  const connections = new Map<string, number>();
  const wss = new WebSocketServer({
    server,
    // Frames of one tick leave in one write (ws-socket.ts).
    WebSocket: CoalescingWebSocket,
    path: options.path,
    maxPayload: options.maxPayloadBytes,
    verifyClient: ({ req }, accept) => {
      const ip = clientAddress(req);
      const open = connections.get(ip) ?? 0;
      if (open >= options.maxConnectionsPerIp) {
        options.logger.warn({ ip, open }, 'websocket refused: too many connections from this address');
        accept(false, 429, 'Too Many Connections', { 'Retry-After': '5' });
        return;
      }
      connections.set(ip, open + 1);
      // The TCP socket's end covers every way out: closed, terminated, or an upgrade that failed after this check.
      req.socket.once('close', () => {
        const left = (connections.get(ip) ?? 1) - 1;
        if (left > 0) connections.set(ip, left);
        else connections.delete(ip);
      });
      accept(true);
    },
  });
  const started = new Map<string, { at: number; info: RequestInfo }>();
  const key = (socketId: number, id: string) => `${socketId}:${id}`;
  let nextSocketId = 0;
  const socketIds = new WeakMap<object, number>();
  const socketIdOf = (socket: object) => {
    let id = socketIds.get(socket);
    if (id === undefined) socketIds.set(socket, (id = ++nextSocketId));
    return id;
  };

  const disposable = useServer<Record<string, unknown> | undefined, SocketAuth>(
    {
      // Close reasons never carry an internal error's message, whatever NODE_ENV says.
      isProd: true,
      connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
      onConnect: async (ctx) => {
        const result = await options.authenticate(presentedAuthorization(ctx.connectionParams, ctx.extra.request.headers.authorization));
        // false: graphql-ws closes with 4403 Forbidden, before any subscription exists.
        if (!result.ok) return false;
        ctx.extra.principal = result.value;
        ctx.extra.unwatch = options.watch(result.value, (reason) => ctx.extra.socket.close(4403, reason === 'key_expired' ? 'Forbidden: API key expired' : 'Forbidden: API key revoked'));
        return true;
      },
      onClose: (ctx) => {
        ctx.extra.unwatch?.();
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
      onSubscribe: async (ctx, id, received) => {
        // Yoga's persisted-operations hook (onParams) is HTTP-only: the same resolution here.
        const resolved = resolvePersisted(options.persisted, received);
        if (!resolved.ok) return [withoutHttp(resolved.error)];
        const payload = resolved.query === undefined ? received : { ...received, query: resolved.query };
        const requestInfo = newRequestInfo();
        requestInfo.operation = payload.operationName ?? null;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          principal: ctx.extra.principal,
          requestInfo,
          closeConnection: (code: number, reason: string) => ctx.extra.socket.close(code, reason),
        });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [withoutHttp(error as GraphQLError)];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors.map(withoutHttp);
        started.set(key(socketIdOf(ctx.extra.socket), id), { at: performance.now(), info: requestInfo });
        return {
          schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        } satisfies ExecutionArgs;
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map((e) => withoutHttp(e as GraphQLError).toJSON()) } : undefined),
      onError: (ctx, id, _payload, errors) => {
        const entry = started.get(key(socketIdOf(ctx.extra.socket), id));
        if (entry) entry.info.outcome = 'error';
        return errors.map((e) => withoutHttp(e).toJSON());
      },
      onComplete: (ctx, id) => {
        const k = key(socketIdOf(ctx.extra.socket), id);
        const entry = started.get(k);
        if (!entry) return;
        started.delete(k);
        const { info } = entry;
        const operation = options.metrics.operationLabel(info.operation);
        const durationMs = performance.now() - entry.at;
        options.metrics.operations.inc({ operation, type: info.type ?? 'unknown', transport: 'ws', outcome: info.outcome });
        options.logger.info({ transport: 'ws', operation: info.operation, type: info.type, outcome: info.outcome, durationMs: Math.round(durationMs * 100) / 100 }, 'operation');
      },
    },
    wss,
    options.keepAliveMs,
  );
  // graphql-ws prints socket errors (an oversized frame is one) with their stack to
  // the console; ws has already closed such a socket (1009, 1007, ...), so a log line suffices.
  wss.on('connection', (socket, request) => {
    socket.coalesceWrites(request.socket);
    socket.removeAllListeners('error');
    socket.on('error', (error: Error & { code?: string }) => options.logger.warn({ code: error.code, reason: error.message }, 'websocket closed on a protocol error'));
  });

  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting. */
    close: async () => {
      await disposable.dispose();
    },
  };
}
