import type { ActionConfigService } from '../actionconfig/service.js';
import type { AuditLog } from '../audit/audit.js';
import type { AccessControl } from '../auth/access.js';
import type { AgentStore } from '../auth/agents.js';
import type { KeyStore } from '../auth/keys.js';
import type { Principal } from '../auth/principal.js';
import type { LiveHub } from '../events/live.js';
import type { Registry } from '../registry/registry.js';
import type { RunService } from '../runs/service.js';
import type { Catalogue } from '../services/catalogue.js';
import type { WebhookStore } from '../webhooks/index.js';

/** What every resolver sees. Built per request by the HTTP and WebSocket adapters. */
export interface GatewayContext {
  /** The caller (an API key, or the open-mode identity); its tenant confines every read and write. */
  principal: Principal;
  /** The tenant whose key admins may manage keys of other tenants (SYNAPSE_DEFAULT_TENANT). */
  operatorTenant: string;
  access: AccessControl;
  keys: KeyStore;
  agents: AgentStore;
  audit: AuditLog;
  registry: Registry;
  actionConfigs: ActionConfigService;
  catalogue: Catalogue;
  runs: RunService;
  live: LiveHub;
  webhooks: WebhookStore;
  /** The peer address of the connection (no proxy header is trusted); the per-IP trigger rate limit keys on it. */
  clientIp?: string | null;
  /**
   * Keys the per-key trigger rate limit when set (meant for the API key id once
   * requests carry a principal); null or absent: only the per-IP limit applies.
   */
  rateLimitKey?: string | null;
  /** graphql-ws only: closes this client's socket (slow subscribers). */
  closeConnection?: (code: number, reason: string) => void;
}
