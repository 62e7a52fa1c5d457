// One GraphQL request over each transport (HTTP, SSE, graphql-ws), reduced to
// what a test compares: errors with their codes, data, or how the socket
// closed; plus the raw text received, to check that nothing leaked.
import WebSocket from 'ws';

export type Transport = 'http' | 'sse' | 'ws';
export const TRANSPORTS: readonly Transport[] = ['http', 'sse', 'ws'];

export interface WireError {
  message: string;
  code: unknown;
}

export type Outcome =
  | { kind: 'errors'; status: number | null; errors: WireError[]; raw: string }
  | { kind: 'data'; status: number | null; data: unknown; raw: string }
  | { kind: 'closed'; code: number; reason: string; raw: string };

/** The request body as a client would send it; `pad` adds that many bytes of padding inside `variables`. */
export interface GraphqlRequest {
  query?: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
  documentId?: string;
  pad?: number;
}

const bodyOf = (request: GraphqlRequest): string => {
  const { pad, ...rest } = request;
  return JSON.stringify(pad ? { ...rest, variables: { ...rest.variables, pad: 'x'.repeat(pad) } } : rest);
};

const errorsOf = (value: unknown): WireError[] =>
  (Array.isArray(value) ? value : []).map((e: { message?: unknown; extensions?: { code?: unknown } }) => ({ message: String(e.message), code: e.extensions?.code }));

function outcomeOf(status: number | null, payload: { data?: unknown; errors?: unknown } | undefined, raw: string): Outcome {
  if (payload?.errors) return { kind: 'errors', status, errors: errorsOf(payload.errors), raw };
  return { kind: 'data', status, data: payload?.data, raw };
}

export async function overHttp(url: string, request: GraphqlRequest, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: bodyOf(request),
  });
  const raw = await res.text();
  return outcomeOf(res.status, JSON.parse(raw) as { data?: unknown; errors?: unknown }, raw);
}

/** The first `next` event of a text/event-stream response. */
export async function overSse(url: string, request: GraphqlRequest, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: bodyOf(request),
  });
  const raw = await res.text();
  const block = raw.split('\n\n').find((b) => /^event: next$/m.test(b));
  const data = block
    ?.split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5))
    .join('\n');
  return outcomeOf(res.status, data ? (JSON.parse(data) as { data?: unknown; errors?: unknown }) : undefined, raw);
}

/** A raw graphql-transport-ws socket, once acknowledged. */
export async function openAcked(url: string): Promise<{ socket: WebSocket; received: string[] }> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const received: string[] = [];
  socket.on('message', (data) => received.push(String(data)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (received.some((m) => (JSON.parse(m) as { type: string }).type === 'connection_ack')) resolve();
      else setTimeout(check, 5);
    };
    socket.once('close', (code) => reject(new Error(`closed ${code} before connection_ack`)));
    check();
  });
  return { socket, received };
}

/** One operation over graphql-ws: its first `next` or `error`, or the close. */
export async function overWs(url: string, request: GraphqlRequest): Promise<Outcome> {
  const { socket, received } = await openAcked(url);
  const { pad, ...payload } = request;
  const body = { ...payload, query: payload.query ?? '', ...(pad ? { variables: { ...payload.variables, pad: 'x'.repeat(pad) } } : {}) };
  return new Promise<Outcome>((resolve) => {
    const done = (outcome: Outcome) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      resolve(outcome);
    };
    socket.on('message', (data) => {
      const text = String(data);
      const message = JSON.parse(text) as { type: string; id?: string; payload?: unknown };
      if (message.id !== '1') return;
      const raw = received.join('\n');
      if (message.type === 'error') done({ kind: 'errors', status: null, errors: errorsOf(message.payload), raw });
      else if (message.type === 'next') done(outcomeOf(null, message.payload as { data?: unknown; errors?: unknown }, raw));
    });
    socket.on('close', (code, reason) => done({ kind: 'closed', code, reason: String(reason), raw: received.join('\n') }));
    socket.on('error', () => {});
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: body }));
  });
}

export function over(transport: Transport, url: string, request: GraphqlRequest): Promise<Outcome> {
  return transport === 'http' ? overHttp(url, request) : transport === 'sse' ? overSse(url, request) : overWs(url, request);
}

/** What must never reach a client: stacks, source paths, SQL, suggestions that leak the schema. */
export const LEAKS = /\bat \S+ \(|\.(ts|js):\d+|node_modules|\/(work|home|root|usr|tmp|var)\/|\bselect\b.+\bfrom\b|\binsert into\b|postgres|pglite|Did you mean|"stack"|"originalError":\{"name":"\w+","/i;
