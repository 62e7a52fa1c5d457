// A minimal router for the REST compatibility routes: exact segments and
// `:params`, method dispatch, 404/405 as `{error, detail}`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AgentIdentity } from '../../auth/agents.js';
import type { Principal } from '../../auth/principal.js';
import type { Scope } from '../../auth/scopes.js';

export interface RestRequest {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The caller; its tenant confines the route. */
  principal: Principal;
  /** The Axon, on routes that take an Axon credential. */
  agent: AgentIdentity | null;
}

/** Who may call a route: keys with any of `scopes`, or an Axon with its own credential. */
export type RouteAccess = { scopes: readonly Scope[] } | { agent: true };

/** Checks the caller against a route's access; a response (401/403) when refused. */
export type RestGuard = (req: IncomingMessage, access: RouteAccess) => Promise<{ ok: true; principal: Principal; agent: AgentIdentity | null } | { ok: false; response: RestResponse }>;
export interface RestResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
export type RestHandler = (request: RestRequest) => Promise<RestResponse> | RestResponse;

interface Route {
  method: string;
  segments: string[];
  family: string;
  access: RouteAccess;
  handler: RestHandler;
}

export interface RouteOptions {
  /** Every route says who may call it: there is no default. */
  access: RouteAccess;
  /** The metrics label; the pattern by default. */
  family?: string;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): RestResponse {
  return headers ? { status, body, headers } : { status, body };
}

export function createRouter(guard: RestGuard) {
  const routes: Route[] = [];

  function add(method: string, pattern: string, options: RouteOptions, handler: RestHandler) {
    routes.push({ method, segments: pattern.split('/').filter(Boolean), family: options.family ?? pattern, access: options.access, handler });
  }

  async function run(route: Route, req: IncomingMessage, params: Record<string, string>, query: URLSearchParams): Promise<RestResponse> {
    const allowed = await guard(req, route.access);
    if (!allowed.ok) return allowed.response;
    return route.handler({ req, params, query, principal: allowed.principal, agent: allowed.agent });
  }

  function match(pathname: string): { routes: Array<{ route: Route; params: Record<string, string> }> } {
    let parts: string[];
    try {
      parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return { routes: [] };
    }
    const found: Array<{ route: Route; params: Record<string, string> }> = [];
    for (const route of routes) {
      const params: Record<string, string> = {};
      const rest = route.segments.indexOf('*');
      if (rest >= 0) {
        // `*` takes one or more segments, rejoined with `/` (a TRN holds slashes).
        const before = route.segments.slice(0, rest);
        const after = route.segments.slice(rest + 1);
        if (parts.length < before.length + after.length + 1) continue;
        const head = parts.slice(0, before.length);
        const tail = parts.slice(parts.length - after.length);
        if (head.every((p, i) => p === before[i]) && tail.every((p, i) => p === after[i])) {
          params['*'] = parts.slice(before.length, parts.length - after.length).join('/');
          found.push({ route, params });
        }
        continue;
      }
      if (route.segments.length !== parts.length) continue;
      const same = route.segments.every((segment, i) => {
        const part = parts[i]!;
        if (segment.startsWith(':')) {
          params[segment.slice(1)] = part;
          return true;
        }
        return segment === part;
      });
      if (same) found.push({ route, params });
    }
    return { routes: found };
  }

  /** Answers the request if a route matches its path; `onMatch` learns the route family first. */
  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, onMatch: (family: string) => void): Promise<boolean> {
    const { routes: candidates } = match(url.pathname);
    if (candidates.length === 0) return false;
    const hit = candidates.find((c) => c.route.method === req.method);
    onMatch((hit ?? candidates[0]!).route.family);
    const response = hit
      ? await run(hit.route, req, hit.params, url.searchParams)
      : json(405, { error: 'method_not_allowed', detail: `use ${[...new Set(candidates.map((c) => c.route.method))].join(', ')}` });
    send(res, response);
    return true;
  }

  return { add, handle };
}

export function send(res: ServerResponse, response: RestResponse): void {
  const body = JSON.stringify(response.body);
  res.writeHead(response.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...response.headers,
  });
  res.end(body);
}
