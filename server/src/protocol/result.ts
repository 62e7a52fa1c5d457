/**
 * Result values shared by the protocol modules. Validation never throws: every
 * parser returns `{ ok: true, value }` or `{ ok: false, error: { code, path, message } }`.
 *
 * `path` locates the offending value: object keys joined by `.`, array indices in
 * brackets (`layout.root[0].children[2]`); the empty string is the whole payload.
 */
export interface ProtocolError<C extends string = string> {
  readonly code: C;
  readonly path: string;
  readonly message: string;
}

export type Result<T, C extends string = string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ProtocolError<C> };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<C extends string>(
  code: C,
  path: string,
  message: string,
): { readonly ok: false; readonly error: ProtocolError<C> } {
  return { ok: false, error: { code, path, message } };
}

/** Appends an object key or array index to a path (see the module comment for the format). */
export function joinPath(base: string, segment: string | number): string {
  if (typeof segment === 'number') return `${base}[${segment}]`;
  return base === '' ? segment : `${base}.${segment}`;
}

/** Turns a zod-style path array into the string format used in errors. */
export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of segments) {
    out = joinPath(out, typeof segment === 'number' ? segment : String(segment));
  }
  return out;
}

/**
 * The same error in the `{ code, field, message }` form used for GraphQL and REST
 * results (`field` is `null` when the error concerns the whole payload).
 */
export function toFieldError<C extends string>(error: ProtocolError<C>): { code: C; field: string | null; message: string } {
  return { code: error.code, field: error.path === '' ? null : error.path, message: error.message };
}
