// Guards GraphQL over HTTP against cross-site request forgery. A browser sends
// a "simple" request (GET, or POST as form or text/plain) cross-origin without
// asking CORS first, so such requests must carry a header no simple request
// can have: one of CSRF_HEADERS, or Authorization. JSON POSTs are preflighted
// by browsers already and pass as they are. graphql-ws is not concerned: the
// gateway keeps no cookie session for a forged upgrade to ride on.
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Any one of these (any value) marks a request as sent by a script that passed CORS. */
export const CSRF_HEADERS = ['x-graphql-csrf', 'graphql-require-preflight', 'apollo-require-preflight'] as const;

export const CSRF_CODE = 'csrf_header_required';

// The content types a cross-origin form or fetch can send without a preflight.
const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

function isSimpleContentType(contentType: string | null): boolean {
  if (contentType === null) return true;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return essence === '' || SIMPLE_CONTENT_TYPES.includes(essence);
}

export function useCsrfPrevention(): Plugin<Record<string, unknown>> {
  return {
    onRequestParse({ request }) {
      const { headers } = request;
      if (request.method !== 'GET' && request.method !== 'HEAD' && !isSimpleContentType(headers.get('content-type'))) return;
      if (headers.has('authorization') || CSRF_HEADERS.some((name) => headers.has(name))) return;
      throw createGraphQLError(`This request needs one of the headers ${CSRF_HEADERS.join(', ')} (any value) or a JSON content type.`, {
        extensions: { code: CSRF_CODE, http: { status: 403 } },
      });
    },
  };
}
