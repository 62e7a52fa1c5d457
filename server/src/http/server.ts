// The HTTP edge: one node:http server carrying GraphQL (HTTP, SSE, graphql-ws),
// the REST compatibility routes, health, readiness and metrics. Logs one line
// per request with its duration and GraphQL operation name.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST, GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { AuthFailure } from '../auth/keys.js';
import type { Principal } from '../auth/principal.js';
import type { Result } from '../errors.js';
import type { GatewayContext } from '../graphql/context.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PersistedOperations } from './persisted-operations.js';
import { useRequestBodyLimit } from './plugins/body-limit.js';
import { useCsrfPrevention } from './plugins/csrf.js';
import { useNoErrorLeaks } from './plugins/error-leaks.js';
import { createErrorMask, useErrorMasking } from './plugins/error-masking.js';
import { useNoIntrospection } from './plugins/introspection.js';
import { newRequestInfo, type RequestInfo, useOperationInfo } from './plugins/operation-info.js';
import { usePersistedOperations } from './plugins/persisted-operations.js';
import { type QueryLimits, useQueryLimits } from './plugins/query-limits.js';
import { useSharedSubscriptions } from './plugins/shared-subscriptions.js';
import { useStorableStrings } from './plugins/storable-strings.js';
import { useTriggerRateLimit } from './plugins/trigger-rate-limit.js';
import type { RateLimiter } from './rate-limit.js';
import { createRequestLog } from './request-log.js';
import { createRouter, type RestGuard, send } from './rest/router.js';
import { attachGraphqlWs } from './ws.js';

export const GRAPHQL_PATH = '/graphql';
const YOGA_HEALTH_PATH = '/yoga-health';

/** `/graphql`, with or without a query string (the path Yoga serves). */
const isGraphqlUrl = (url: string | undefined): boolean => url === GRAPHQL_PATH || (url !== undefined && url.startsWith(`${GRAPHQL_PATH}?`));

export interface HttpOptions {
  schema: GraphQLSchema;
  logger: Logger;
  metrics: Metrics;
  /** Per-request GraphQL context for an authenticated caller: its tenant and the domain services. */
  context: (principal: Principal, req: IncomingMessage) => GatewayContext;
  /** Who presents this Authorization value (HTTP header, SSE, or graphql-ws connection_init). */
  authenticate: (authorization: string | undefined) => Promise<Result<Principal, AuthFailure>>;
  /** Calls back when a principal's key is revoked or expires (graphql-ws closes with 4403). */
  watch: (principal: Principal, onEnded: (reason: string) => void) => () => void;
  /** Checks REST callers against each route's access. */
  restGuard: RestGuard;
  /** Registers the REST compatibility routes. */
  routes: (router: ReturnType<typeof createRouter>) => void;
  /** Resolves when every dependency is reachable; the reason otherwise. */
  readiness: () => Promise<Record<string, 'ok' | string>>;
  graphiql: boolean;
  jit: boolean;
  maxBodyBytes: number;
  /** Hardening (docs/security.md); the same rules on HTTP, SSE and graphql-ws. */
  security: {
    /** Off: `__schema`/`__type` refused, no "Did you mean" suggestions, no GraphiQL. */
    introspection: boolean;
    limits: QueryLimits;
    persisted: PersistedOperations;
    /** Shared with the REST trigger routes: one budget per caller whatever the route. */
    triggerLimiter: RateLimiter;
    wsMaxConnectionsPerIp: number;
    wsKeepAliveMs: number;
  };
}

/** What a request's log line and metrics say, taken when its response finished. */
interface AnsweredRequest {
  method: string;
  /** The route family (`/graphql`, `/api/actions/:id`), never the raw URL. */
  route: string;
  status: number;
  durationMs: number;
  /** The GraphQL operation, for `/graphql`. */
  info: RequestInfo;
}

export interface ServerContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestInfo: RequestInfo;
}

const DEFAULT_QUERY = `# Welcome to Synapse Gateway. Try:
mutation CreateDefinition {
  createActionDefinition(input: { title: "Say hello", kind: "command", spec: { cmd: "echo hello" } }) {
    __typename
    ... on CreateActionDefinitionSuccess { actionDefinition { id title version spec { ... on CommandSpec { cmd cwd timeoutS } } } }
    ... on Error { code field message }
  }
}

query Definitions {
  actionDefinitions(first: 10) { nodes { id title kind enabled } pageInfo { hasNextPage endCursor } }
}
`;

/** Subscribers share event results only within one tenant and one set of scopes. */
const sharingScopeOf = (context: Partial<GatewayContext>) => (context.principal ? { tenant: context.principal.tenant, scopes: context.principal.scopes } : null);

export function createHttpServer(options: HttpOptions) {
  const { logger, metrics } = options;
  const { security } = options;
  // Yoga's logger.error line for a masked error: its message only, never the stack.
  const maskUnexpected = createErrorMask((error) => logger.error({ yoga: [error instanceof Error ? error.message : String(error)] }, 'yoga'));
  const plugins: Plugin<Record<string, unknown>>[] = [
    useErrorMasking(maskUnexpected),
    useNoErrorLeaks(),
    useCsrfPrevention(),
    usePersistedOperations(security.persisted),
    useQueryLimits(security.limits),
    useStorableStrings(),
    ...(security.introspection ? [] : [useNoIntrospection()]),
    useTriggerRateLimit(security.triggerLimiter),
    useOperationInfo() as Plugin<Record<string, unknown>>,
  ];
  if (options.jit) {
    // graphql-jit's subscribe maps a subscription's variables wrongly when a
    // variable's name differs from its argument's (runEvents(runId: $id) saw no
    // runId), so a subscription's source stream is made by graphql-js; its
    // events' selections are compiled (useSharedSubscriptions), queries and
    // mutations here.
    plugins.push(
      useGraphQlJit({}, { enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation !== 'subscription' }) as Plugin<Record<string, unknown>>,
    );
  }
  // After JIT: subscriptions run on this lean subscribe, one execution per event shared by same-scope subscribers.
  plugins.push(useSharedSubscriptions((context) => sharingScopeOf(context as Partial<GatewayContext>), { compile: options.jit, maskError: maskUnexpected }));
  // Last of our plugins: Yoga runs them after its own request parsers, where it would run its limit.
  plugins.push(useRequestBodyLimit(options.maxBodyBytes));

  const yoga = createYoga<ServerContext, GatewayContext>({
    schema: options.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    graphiql: options.graphiql && security.introspection ? { title: 'Synapse Gateway', subscriptionsProtocol: 'WS', defaultQuery: DEFAULT_QUERY } : false,
    landingPage: false,
    batching: false,
    // Enforced by useRequestBodyLimit (SYNAPSE_MAX_BODY_BYTES), without a stream per request.
    maxRequestBodySize: false,
    // Masked by useErrorMasking instead (isDev false whatever NODE_ENV says: a masked
    // error never carries its original), without Yoga's wrappers around every live stream.
    maskedErrors: false,
    healthCheckEndpoint: YOGA_HEALTH_PATH,
    logging: {
      debug: (...args) => logger.debug({ yoga: args.map(String) }, 'yoga'),
      info: (...args) => logger.info({ yoga: args.map(String) }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args.map(String) }, 'yoga'),
      error: (...args) => logger.error({ yoga: args.map((a) => (a instanceof Error ? a.message : String(a))) }, 'yoga'),
    },
    context: async (initial) => {
      // graphql-ws authenticated the socket at connection_init.
      const fromSocket = (initial as { principal?: Principal }).principal;
      if (fromSocket) return options.context(fromSocket, initial.req);
      const result = await options.authenticate(initial.req.headers.authorization);
      if (!result.ok) {
        throw new GraphQLError(result.error.message, { extensions: { code: result.error.code, http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } } });
      }
      return options.context(result.value, initial.req);
    },
    plugins,
  });

  const router = createRouter(options.restGuard);
  options.routes(router);

  /** One line and the metrics per request, written just after the responses (request-log.ts). */
  const requestLog = createRequestLog(
    ({ method, route, status, durationMs, info }: AnsweredRequest) => {
      metrics.httpRequests.inc({ route, method, status: `${Math.floor(status / 100)}xx` });
      if (route !== GRAPHQL_PATH) {
        logger.info({ method, path: route, status, durationMs }, 'request');
        return;
      }
      const { operation, type, outcome } = info;
      if (type) {
        const label = metrics.operationLabel(operation);
        metrics.operations.inc({ operation: label, type, outcome, transport: 'http' });
        if (type !== 'subscription') metrics.operationDuration.observe({ operation: label, type, outcome }, durationMs / 1000);
      }
      logger.info({ method, path: route, status, durationMs, operation, type, outcome }, 'request');
    },
    { onError: (error) => logger.error({ err: error instanceof Error ? error.message : String(error) }, 'request log: writing a record failed') },
  );

  /** Answers health, readiness, metrics and REST; returns false to hand the request to Yoga. */
  async function handle(req: IncomingMessage, res: ServerResponse, meta: { route: string }): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    meta.route = url.pathname === GRAPHQL_PATH ? GRAPHQL_PATH : 'other';
    if (url.pathname === '/healthz') {
      meta.route = '/healthz';
      send(res, { status: 200, body: { status: 'ok' } });
      return true;
    }
    if (url.pathname === '/readyz') {
      meta.route = '/readyz';
      const checks = await options.readiness();
      const ready = Object.values(checks).every((c) => c === 'ok');
      send(res, { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not_ready', checks } });
      return true;
    }
    if (url.pathname === '/metrics' && req.method === 'GET') {
      meta.route = '/metrics';
      // The requests answered so far count in this scrape.
      requestLog.flush();
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return true;
    }
    const routed = await router.handle(req, res, url, (family) => {
      meta.route = family;
    });
    if (routed || url.pathname === GRAPHQL_PATH || url.pathname === YOGA_HEALTH_PATH) return routed;
    // Any other path: a JSON 404 like the REST routes' (Yoga's own would be an empty body).
    send(res, { status: 404, body: { error: 'not_found', detail: 'no such route' } });
    return true;
  }

  function failed(res: ServerResponse, error: unknown): void {
    logger.error({ err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) }, 'request failed');
    if (!res.headersSent) send(res, { status: 500, body: { error: 'internal', detail: 'unexpected error; see the gateway log' } });
    else res.destroy();
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const requestInfo = newRequestInfo();
    const meta = { route: 'other' };
    res.on('finish', () => {
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      requestLog.record({ method: req.method ?? 'GET', route: meta.route, status: res.statusCode, durationMs, info: requestInfo });
    });
    const context = { requestInfo } as ServerContext;
    if (isGraphqlUrl(req.url)) {
      // The hot path: straight to Yoga, without a URL parse, the REST router and a promise hop.
      meta.route = GRAPHQL_PATH;
      Promise.resolve(yoga(req, res, context)).catch((error: unknown) => failed(res, error));
      return;
    }
    handle(req, res, meta)
      .then((handled) => (handled ? undefined : yoga(req, res, context)))
      .catch((error: unknown) => failed(res, error));
  });
  // The last requests' lines are written before the server is reported closed.
  server.on('close', () => requestLog.flush());
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;

  const ws = attachGraphqlWs(server, yoga as never, {
    path: GRAPHQL_PATH,
    maxPayloadBytes: options.maxBodyBytes,
    logger,
    metrics,
    persisted: security.persisted,
    maxConnectionsPerIp: security.wsMaxConnectionsPerIp,
    keepAliveMs: security.wsKeepAliveMs,
    authenticate: options.authenticate,
    watch: options.watch,
  });

  return { server, yoga, ws };
}
