// Prometheus metrics of one gateway. A registry per gateway (not the global
// one) so several gateways in one process, as in tests, keep their own counts.
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Operation names come from clients: cap the label set so they cannot grow memory without bound. */
const MAX_OPERATION_LABELS = 200;

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'synapse_' });
  const seenOperations = new Set<string>();

  const httpRequests = new Counter({
    name: 'synapse_http_requests_total',
    help: 'HTTP requests by route family, method and status class.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const operations = new Counter({
    name: 'synapse_graphql_operations_total',
    help: 'GraphQL operations by name, type, transport and outcome.',
    labelNames: ['operation', 'type', 'transport', 'outcome'] as const,
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'synapse_graphql_operation_duration_seconds',
    help: 'GraphQL operation duration by name and outcome (subscriptions excluded).',
    labelNames: ['operation', 'type', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  function operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'invalid';
    if (seenOperations.has(name)) return name;
    if (seenOperations.size >= MAX_OPERATION_LABELS) return 'other';
    seenOperations.add(name);
    return name;
  }

  return {
    registry,
    httpRequests,
    operations,
    operationDuration,
    operationLabel,
    /** Registers a counter of a later capability on this gateway's registry. */
    counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []) {
      return new Counter<L>({ name, help, labelNames, registers: [registry] });
    },
  };
}
