import type { ActionConfigService } from '../actionconfig/service.js';
import type { LiveHub } from '../events/live.js';
import type { Registry } from '../registry/registry.js';
import type { RunService } from '../runs/service.js';
import type { Catalogue } from '../services/catalogue.js';
import type { WebhookStore } from '../webhooks/index.js';

/** What every resolver sees. Built per request by the HTTP and WebSocket adapters. */
export interface GatewayContext {
  tenant: string;
  registry: Registry;
  actionConfigs: ActionConfigService;
  catalogue: Catalogue;
  runs: RunService;
  live: LiveHub;
  webhooks: WebhookStore;
  /** graphql-ws only: closes this client's socket (slow subscribers). */
  closeConnection?: (code: number, reason: string) => void;
}
