// Guards the request body size of GraphQL over HTTP (SYNAPSE_MAX_BODY_BYTES,
// 413 beyond it), answering as Yoga's own limit does but without Yoga's
// byte-counting stream on every request: that stream cost a third to half of
// the CPU of a small query (bench:registry). A body that arrived through
// node:http with a valid Content-Length is exactly that long (Node's parser
// frames it), so the header check suffices; chunked bodies and direct
// `yoga.fetch` calls are still counted byte by byte.
import { createGraphQLError, type Plugin } from 'graphql-yoga';

const CONTENT_LENGTH = /^\d+$/;

const bodyTooLarge = () =>
  createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });

export function useRequestBodyLimit(limit: number): Plugin<Record<string, unknown>> {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI, serverContext }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength != null) {
        if (!CONTENT_LENGTH.test(contentLength)) {
          throw createGraphQLError('Content-Length header is invalid.', { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
        }
        if (Number(contentLength) > limit) throw bodyTooLarge();
        if ((serverContext as { req?: unknown }).req) return;
      }
      if (requestParser == null || request.body == null) return;
      const parse = requestParser;
      setRequestParser((req) => parse(countBodyBytes(req, limit, fetchAPI)));
    },
  };
}

/** Yoga's `limitRequestBodySize`: the same request whose body errors past `limit` bytes. */
function countBodyBytes(request: Request, limit: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
  const body = request.body;
  if (!body) return request;
  const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let bytesRead = 0;
  const limited = body.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytesRead += chunk.byteLength;
        if (bytesRead > limit) {
          controller.error(bodyTooLarge());
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body: limited, duplex: 'half' } as RequestInit);
}
