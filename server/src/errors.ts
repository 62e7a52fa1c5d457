// Errors a client can act on travel as values: a machine `code`, the offending
// `field` (null when it concerns the whole request) and a human message.
export interface DomainError {
  code: string;
  field: string | null;
  message: string;
}

export type Result<T, E extends DomainError = DomainError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export const fail = (code: string, field: string | null, message: string): { ok: false; error: DomainError } => ({
  ok: false,
  error: { code, field, message },
});

export const notFound = (what: string): { ok: false; error: DomainError } =>
  fail('not_found', 'id', `${what} not found`);
