// graphql-ws adapter: GraphQL over WebSocket on the same port and path as HTTP.
// Operations run through Yoga's envelop pipeline, so the schema, context and
// plugins (error masking, JIT) are the same as over HTTP and SSE.
import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { AuthFailure } from '../auth/keys.js';
import type { Principal } from '../auth/principal.js';
import type { Result } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { newRequestInfo, type RequestInfo } from './plugins/operation-info.js';

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

// biome-ignore lint: Yoga's generic parameters are the gateway's own.
type AnyYoga = YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;

export function attachGraphqlWs(server: Server, yoga: AnyYoga, options: GraphqlWsOptions) {
  const wss = new WebSocketServer({ server, path: options.path, maxPayload: options.maxPayloadBytes });
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
      onSubscribe: async (ctx, id, payload) => {
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
          return [error as import('graphql').GraphQLError];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
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
      onError: (ctx, id) => {
        const entry = started.get(key(socketIdOf(ctx.extra.socket), id));
        if (entry) entry.info.outcome = 'error';
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
  );

  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting. */
    close: async () => {
      await disposable.dispose();
    },
  };
}
