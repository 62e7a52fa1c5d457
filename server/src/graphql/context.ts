import type { Registry } from '../registry/registry.js';

/** What every resolver sees. Built per request by the HTTP and WebSocket adapters. */
export interface GatewayContext {
  tenant: string;
  registry: Registry;
}
