// Guards observability: records which operation a request ran, its type and
// whether it failed, so the HTTP adapter can log one line and count it once.
// It reads only what Yoga already parsed; it never changes a result.
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface RequestInfo {
  operation: string | null;
  type: string | null;
  outcome: 'ok' | 'error';
}

export const newRequestInfo = (): RequestInfo => ({ operation: null, type: null, outcome: 'ok' });

type WithInfo = { requestInfo?: RequestInfo };

const hasErrors = (result: unknown): boolean =>
  Array.isArray(result)
    ? result.some(hasErrors)
    : typeof result === 'object' && result !== null && Array.isArray((result as { errors?: unknown }).errors);

export function useOperationInfo(): Plugin<WithInfo> {
  return {
    onValidate({ params, context }) {
      const info = (context as WithInfo).requestInfo;
      if (!info) return;
      const operation = getOperationAST(params.documentAST, info.operation ?? undefined);
      info.type = operation?.operation ?? 'unknown';
      info.operation = operation?.name?.value ?? info.operation;
      return ({ valid }) => {
        if (!valid) info.outcome = 'error';
      };
    },
    onExecute({ args }) {
      const info = (args.contextValue as WithInfo).requestInfo;
      if (!info) return;
      const operation = getOperationAST(args.document, args.operationName);
      info.type = operation?.operation ?? null;
      info.operation = operation?.name?.value ?? info.operation;
    },
    onSubscribe({ args }) {
      const info = (args.contextValue as WithInfo).requestInfo;
      if (info) info.type = 'subscription';
    },
    onResultProcess({ result, serverContext }) {
      const info = (serverContext as WithInfo).requestInfo;
      if (info && hasErrors(result)) info.outcome = 'error';
    },
  };
}
