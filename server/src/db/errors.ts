// Postgres errors the gateway recovers from, recognised through drizzle's and
// the drivers' (postgres.js, PGlite) error wrappers.

/** A unique violation (SQLSTATE 23505), on the error or one of its causes. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
