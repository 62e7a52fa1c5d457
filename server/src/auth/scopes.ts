// The permissions an API key can carry. Every GraphQL root field and REST route
// names the scopes that let a key use it (graphql/authorize.ts, http/rest/*).
export const SCOPES = [
  'definitions:read',
  'definitions:write',
  'actions:trigger',
  'runs:read',
  'runs:cancel',
  'config:write',
  'keys:admin',
] as const;

export type Scope = (typeof SCOPES)[number];

const KNOWN = new Set<string>(SCOPES);

export const isScope = (value: string): value is Scope => KNOWN.has(value);

/** `all` (or `*`) expands to every scope; unknown names are returned as problems. */
export function parseScopes(values: readonly string[]): { scopes: Scope[]; unknown: string[] } {
  const scopes = new Set<Scope>();
  const unknown: string[] = [];
  for (const raw of values) {
    const value = raw.trim();
    if (value === 'all' || value === '*') for (const s of SCOPES) scopes.add(s);
    else if (isScope(value)) scopes.add(value);
    else unknown.push(value);
  }
  return { scopes: SCOPES.filter((s) => scopes.has(s)), unknown };
}
