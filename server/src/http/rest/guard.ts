// Guards the REST routes: 401 without a valid key (or Axon credential), 403
// without the route's scope. The same rules as GraphQL, answered as the REST
// routes answer errors: `{error, detail}`.
import type { AccessControl } from '../../auth/access.js';
import type { AgentStore } from '../../auth/agents.js';
import { hasAnyScope, type Principal } from '../../auth/principal.js';
import { bearerToken } from '../../auth/secrets.js';
import { json, type RestGuard } from './router.js';

const unauthenticated = (code: string, detail: string) => ({ ok: false as const, response: json(401, { error: code, detail }, { 'www-authenticate': 'Bearer' }) });

export function createRestGuard(access: AccessControl, agents: AgentStore): RestGuard {
  return async (req, route) => {
    const header = req.headers.authorization;
    if ('agent' in route) {
      const token = bearerToken(header);
      if (token?.startsWith('sga_')) {
        const agent = await agents.identify(token);
        if (!agent) return unauthenticated('unauthenticated', 'the Axon credential is not valid or was revoked');
        const principal: Principal = { keyId: null, name: `axon ${agent.serviceId}`, tenant: agent.tenant, scopes: new Set(), expiresAt: null };
        return { ok: true, principal, agent };
      }
      if (header === undefined && access.isOpen()) {
        const opened = await access.authenticate(undefined);
        if (opened.ok) return { ok: true, principal: opened.value, agent: null };
      }
      return header === undefined
        ? unauthenticated('unauthenticated', 'send the Axon\'s credential: Authorization: Bearer sga_…')
        : { ok: false, response: json(403, { error: 'forbidden', detail: 'this route takes an Axon credential (sga_…), not an API key' }) };
    }
    const authenticated = await access.authenticate(header);
    if (!authenticated.ok) return unauthenticated(authenticated.error.code, authenticated.error.message);
    if (!hasAnyScope(authenticated.value, route.scopes)) {
      return { ok: false, response: json(403, { error: 'forbidden', detail: `this API key lacks the ${route.scopes.join(' or ')} scope` }) };
    }
    return { ok: true, principal: authenticated.value, agent: null };
  };
}
