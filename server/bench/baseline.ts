/**
 * The baseline of the registry benchmark (server/bench/registry.ts): a bare
 * node:http handler over postgres.js, no framework. It parses the GraphQL-shaped
 * POST body only as far as needed (which of the two benchmark operations, and
 * the `id` variable), runs the equivalent SQL as prepared statements and writes
 * the same JSON bytes the gateway answers for the benchmark's selection set:
 *
 *   id title kind enabled version createdAt updatedAt specJson
 *
 * It is a yardstick, not a GraphQL server: any other query is answered 400.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import postgres from 'postgres';

interface Row {
  id: string;
  title: string;
  kind: string;
  enabled: boolean;
  version: number;
  created_at: Date;
  updated_at: Date;
  spec: unknown;
}

export interface Baseline {
  server: Server;
  sql: postgres.Sql;
}

const PAGE = 50;

// Field order follows the benchmark's selection set; GraphQL answers in that order.
const rowJson = (r: Row) => ({
  id: r.id, // int8 arrives as a string, as the GraphQL ID serialises it
  title: r.title,
  kind: r.kind,
  enabled: r.enabled,
  version: r.version,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  specJson: r.spec,
});

// The gateway's opaque cursor: base64url of `ad:<id>`.
const cursorOf = (id: string) => Buffer.from(`ad:${id}`).toString('base64url');

/** A server (not yet listening) answering the benchmark's two operations for `tenant`. */
export function createBaseline(url: string, options: { poolSize: number; tenant: string }): Baseline {
  const { tenant } = options;
  // postgres.js prepares every query by default (named statements, cached per connection).
  const sql = postgres(url, { max: options.poolSize, onnotice: () => {}, connection: { application_name: 'synapse-bench-baseline' } });

  async function answer(body: string): Promise<unknown> {
    const { query, variables } = JSON.parse(body) as { query?: unknown; variables?: { id?: unknown } | null };
    if (typeof query !== 'string') throw new Error('no query');
    if (query.includes('actionDefinitions(')) {
      const rows = await sql<Row[]>`
        select id, title, kind, enabled, version, created_at, updated_at, spec
        from action_definitions where tenant = ${tenant} order by id desc limit ${PAGE + 1}`;
      const nodes = rows.slice(0, PAGE);
      const last = nodes.at(-1);
      return {
        data: {
          actionDefinitions: {
            nodes: nodes.map(rowJson),
            pageInfo: { hasNextPage: rows.length > PAGE, endCursor: last ? cursorOf(last.id) : null },
          },
        },
      };
    }
    if (query.includes('actionDefinition(')) {
      const raw = variables?.id;
      const id = typeof raw === 'string' && /^[1-9][0-9]{0,15}$/.test(raw) ? raw : null;
      if (id === null) return { data: { actionDefinition: null } };
      const [row] = await sql<Row[]>`
        select id, title, kind, enabled, version, created_at, updated_at, spec
        from action_definitions where tenant = ${tenant} and id = ${id}`;
      return { data: { actionDefinition: row ? rowJson(row) : null } };
    }
    throw new Error('not one of the benchmark operations');
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      answer(Buffer.concat(chunks).toString()).then(
        (result) => {
          const text = JSON.stringify(result);
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
        (error: unknown) => {
          const text = error instanceof Error ? error.message : String(error);
          res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
          res.end(text);
        },
      );
    });
  });
  return { server, sql };
}
