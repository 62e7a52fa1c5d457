// Who is calling: the identity every resolver and REST route checks scopes and
// tenant against. Built once per request (HTTP, SSE) or connection (graphql-ws).
import { type Scope, SCOPES } from './scopes.js';

export interface Principal {
  /** The API key's id; null when the gateway runs open (no key configured, loopback only). */
  keyId: string | null;
  name: string;
  tenant: string;
  scopes: ReadonlySet<Scope>;
  expiresAt: Date | null;
}

/** The identity of every caller while no key is configured (loopback only). */
export function openPrincipal(tenant: string): Principal {
  return { keyId: null, name: 'open', tenant, scopes: new Set(SCOPES), expiresAt: null };
}

/** What the audit log records as the actor. */
export const actorOf = (principal: Principal): string => principal.keyId ?? 'open';

export function hasAnyScope(principal: Principal, scopes: readonly Scope[]): boolean {
  return scopes.some((scope) => principal.scopes.has(scope));
}

/** How a trigger names its caller: the audit actor, and the envelope's actorTrn for a key. */
export function callerIdentity(principal: Principal): { actor: string; actorTrn?: string } {
  return principal.keyId === null ? { actor: 'open' } : { actor: principal.keyId, actorTrn: `trn:synapse:${principal.tenant}:key/${principal.keyId}` };
}
