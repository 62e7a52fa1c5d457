// Guards every answer against leaking an unexpected error (a driver's message,
// SQL, a path): such an error reaches the client as "Unexpected error." with
// code INTERNAL_SERVER_ERROR, and the gateway log keeps its message. This is
// Yoga's own masking (`maskError`, isDev false, whatever NODE_ENV says) minus
// its cost on live streams: Yoga's plugin wrapped every subscription stream in
// two more async iterators and ran a hook chain per event and subscriber, a
// third of the fan-out's time. Here a stream's events are masked where they
// are made (useSharedSubscriptions, once per shared result), and the rest at
// the edges: context errors, execution results, refused subscriptions, and
// whatever Yoga answers over HTTP (errors it caught outside execution).
import { type GraphQLError } from 'graphql';
import { handleStreamOrSingleExecutionResult, isAsyncIterable, maskError, type Plugin } from 'graphql-yoga';

export const UNEXPECTED_ERROR_MESSAGE = 'Unexpected error.';

export type MaskError = (error: unknown) => GraphQLError;

type WithErrors = { data?: unknown; errors?: ReadonlyArray<unknown> };

/** Yoga's masking function with isDev false; `onMasked` hears each error it hid, once. */
export function createErrorMask(onMasked: (error: unknown) => void): MaskError {
  const masked = new WeakSet<object>();
  return (error) => {
    if (typeof error === 'object' && error !== null && masked.has(error)) return error as GraphQLError;
    const result = maskError(error, UNEXPECTED_ERROR_MESSAGE, false) as GraphQLError;
    if (result !== error) onMasked(error);
    masked.add(result);
    return result;
  };
}

/** The result with its errors masked; the same object when none needed it. */
export function maskResult<R extends WithErrors>(result: R, mask: MaskError): R {
  const errors = result.errors;
  if (!errors || errors.length === 0) return result;
  let changed = false;
  const next = errors.map((error) => {
    const m = mask(error);
    if (m !== error) changed = true;
    return m;
  });
  return changed ? { ...result, errors: next } : result;
}

export function useErrorMasking(mask: MaskError): Plugin<Record<string, unknown>> {
  /** Masks a single result in place of the hook's (a stream is left to its maker). */
  const onResult = ({ result, setResult }: { result: unknown; setResult: (result: never) => void }): undefined => {
    if (isAsyncIterable(result)) return;
    const masked = maskResult(result as WithErrors, mask);
    if (masked !== result) setResult(masked as never);
  };
  return {
    onPluginInit({ registerContextErrorHandler }) {
      registerContextErrorHandler(({ error, setError }) => setError(mask(error)));
    },
    onExecute: () => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, onResult) }),
    // A stream's events are masked by useSharedSubscriptions; a refused subscription's errors here.
    onSubscribe: () => ({ onSubscribeResult: onResult }),
    // What Yoga caught outside execution (a failing hook, a parser) reaches the client through here.
    // One result per request: Yoga runs with batching off (server.ts).
    onResultProcess: onResult,
  };
}
