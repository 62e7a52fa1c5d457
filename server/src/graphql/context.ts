import type { ActionConfigService } from '../actionconfig/service.js';
import type { Registry } from '../registry/registry.js';
import type { RunService } from '../runs/service.js';
import type { Catalogue } from '../services/catalogue.js';

/** What every resolver sees. Built per request by the HTTP and WebSocket adapters. */
export interface GatewayContext {
  tenant: string;
  registry: Registry;
  actionConfigs: ActionConfigService;
  catalogue: Catalogue;
  runs: RunService;
}
