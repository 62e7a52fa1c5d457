// Guards error responses against leaks that masking does not cover: Yoga's
// request parsers attach `extensions.originalError` (the JSON parser's own
// message, quoting the body) to their 400s. Only its name is kept: Yoga reads
// the field's presence to answer 400 rather than 200. Unexpected errors are
// masked by useErrorMasking (error-masking.ts).
import type { Plugin } from 'graphql-yoga';

type WithErrors = { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> };

const nameOf = (value: unknown): string => (typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string' ? (value as { name: string }).name : 'Error');

function strip(result: unknown): void {
  if (Array.isArray(result)) {
    for (const item of result) strip(item);
    return;
  }
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return;
  for (const error of (result as WithErrors).errors ?? []) {
    if (error.extensions && 'originalError' in error.extensions) error.extensions.originalError = { name: nameOf(error.extensions.originalError) };
  }
}

export function useNoErrorLeaks(): Plugin<Record<string, unknown>> {
  return {
    onResultProcess({ result }) {
      strip(result);
    },
  };
}
