// Schema builder setup only: plugins, scalars, context type and the shared
// error types. Each domain defines its own types and fields in schema/<domain>.ts.
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import type { DomainError } from '../errors.js';
import type { GatewayContext } from './context.js';

/** A failure the client caused and can act on; rendered as a typed result. */
export class UserFailure extends Error implements DomainError {
  constructor(
    readonly code: string,
    readonly field: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'UserFailure';
  }
  static of(error: DomainError): UserFailure {
    const Kind = FAILURE_KINDS[error.code] ?? UserFailure;
    return new Kind(error.code, error.field, error.message);
  }
}
/** The object named does not exist in this tenant. */
export class NotFoundFailure extends UserFailure {}
/** The request conflicts with an earlier one (e.g. an idempotency key reused for another request). */
export class ConflictFailure extends UserFailure {}
/** The target cannot take the request now (e.g. its service is offline). */
export class UnavailableFailure extends UserFailure {}

const FAILURE_KINDS: Record<string, typeof UserFailure> = {
  not_found: NotFoundFailure,
  unknown_service: NotFoundFailure,
  unknown_action: NotFoundFailure,
  unknown_definition: NotFoundFailure,
  idempotency_conflict: ConflictFailure,
  service_offline: UnavailableFailure,
  definition_disabled: UnavailableFailure,
  runner_not_supported: UnavailableFailure,
};

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ErrorsPlugin],
  defaultFieldNullability: false,
  errors: {
    defaultTypes: [],
    defaultResultOptions: { name: ({ fieldName }) => `${capitalise(fieldName)}Success` },
    defaultUnionOptions: { name: ({ fieldName }) => `${capitalise(fieldName)}Result` },
  },
});

function literalToJson(ast: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => literalToJson(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw new GraphQLError('JSON cannot represent this literal');
  }
}

builder.addScalarType(
  'JSON',
  new GraphQLScalarType({
    name: 'JSON',
    description: 'Any JSON value.',
    serialize: (v) => v,
    parseValue: (v) => v,
    parseLiteral: literalToJson,
  }),
);

builder.scalarType('DateTime', {
  description: 'An RFC 3339 timestamp in UTC, e.g. 2026-01-04T12:00:00.000Z.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an RFC 3339 string');
    return date;
  },
});

export const ErrorInterface = builder.interfaceRef<UserFailure>('Error').implement({
  description: 'A failure the client can act on: a machine code, the offending field and a message.',
  fields: (t) => ({
    code: t.exposeString('code', { description: 'Machine-readable code, e.g. invalid_title or not_found.' }),
    field: t.exposeString('field', { nullable: true, description: 'The input field at fault, if any.' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(UserFailure, {
  name: 'ValidationError',
  description: 'The input was rejected; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof UserFailure && value.constructor === UserFailure,
});

builder.objectType(NotFoundFailure, {
  name: 'NotFoundError',
  description: 'No such object in this tenant.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundFailure,
});

builder.objectType(ConflictFailure, {
  name: 'ConflictError',
  description: 'The request conflicts with an earlier one; nothing was changed.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictFailure,
});

builder.objectType(UnavailableFailure, {
  name: 'UnavailableError',
  description: 'The target cannot take the request now (for example its service is offline).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof UnavailableFailure,
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** Unwraps a domain result for a resolver: typed failures become error results. */
export function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: DomainError }): T {
  if (result.ok) return result.value;
  throw UserFailure.of(result.error);
}
