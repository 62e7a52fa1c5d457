// Webhooks: endpoints managed over GraphQL, the Stepflow waiter, and the
// delivery worker, composed for the gateway.
import type { Database } from '../db/client.js';
import type { Logger } from '../observability/logger.js';
import type { RetryPolicy } from './schedule.js';
import { createWebhookStore } from './store.js';
import { createWebhookWorker, type DeliveryOutcomeLabel } from './worker.js';

export type { WebhookStore } from './store.js';

export interface WebhooksOptions {
  db: Database;
  logger: Logger;
  newId: () => string;
  /** Lease owner name of this process's worker. */
  owner: string;
  policy: RetryPolicy;
  timeoutMs: number;
  concurrency: number;
  stepflow: { url: string | undefined; secret: string | undefined };
  /** SYNAPSE_WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  random?: () => number;
  onOutcome?: (outcome: DeliveryOutcomeLabel) => void;
}

export type Webhooks = ReturnType<typeof createWebhooks>;

export function createWebhooks(options: WebhooksOptions) {
  const worker = createWebhookWorker({
    db: options.db,
    logger: options.logger,
    owner: options.owner,
    policy: options.policy,
    timeoutMs: options.timeoutMs,
    concurrency: options.concurrency,
    stepflow: options.stepflow,
    allowPrivate: options.allowPrivate,
    ...(options.random ? { random: options.random } : {}),
    ...(options.onOutcome ? { onOutcome: options.onOutcome } : {}),
  });
  const store = createWebhookStore({
    db: options.db,
    logger: options.logger,
    newId: options.newId,
    stepflowUrl: options.stepflow.url,
    onEnqueued: () => worker.kick(),
    allowPrivate: options.allowPrivate,
  });
  return {
    store,
    worker,
    /** The StoredEventHook: pass it as `onStoredInTx`. */
    onStoredInTx: store.onStoredInTx,
    /** Call after a commit that may have enqueued deliveries. */
    afterCommit: store.afterCommit,
    start: () => worker.start(),
    stop: () => worker.stop(),
  };
}
