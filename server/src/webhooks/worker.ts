// The webhook delivery worker: leases due deliveries (FOR UPDATE SKIP LOCKED,
// then a claim with an expiry, as the outbox relay does), POSTs them with a
// bounded concurrency, a timeout and no redirects, and records each attempt's
// outcome: delivered, retried later (full jitter or Retry-After) or
// dead-lettered. The claim increments the attempt number and every write-back
// is fenced by (owner, attempt), so several workers never send one attempt
// twice. All timers and I/O of webhooks live here.
import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import { Agent, fetch as undiciFetch } from 'undici';
import { blockedHost, publicOnlyLookup } from './address-guard.js';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { runEvents, webhookDeliveries, webhookEndpoints } from '../db/schema.js';
import type { Logger } from '../observability/logger.js';
import { isDelivered, nextStep, parseRetryAfter, type RetryPolicy } from './schedule.js';
import { deliveryHeaders } from './signature.js';
import type { WebhookDeliveryRow } from './store.js';
import { isWebhookUrl } from './validation.js';

/** Bytes of a response body that are read (then the rest is discarded). */
export const MAX_RESPONSE_BYTES = 4096;
/** Characters of a response body kept in `last_error`. */
const MAX_ERROR_EXCERPT = 512;

export type DeliveryOutcomeLabel = 'delivered' | 'retried' | 'dead_lettered' | 'failed';

/** fetch whose connections only reach public addresses (the DNS answer is checked where it is used). */
function publicOnlyFetch(): typeof fetch {
  const dispatcher = new Agent({ connect: { lookup: publicOnlyLookup as never } });
  return ((url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
}

export interface WebhookWorkerOptions {
  db: Database;
  logger: Logger;
  /** This worker's name in leases (unique per worker). */
  owner: string;
  policy: RetryPolicy;
  timeoutMs: number;
  /** Deliveries in flight at most. */
  concurrency: number;
  stepflow: { url: string | undefined; secret: string | undefined };
  /** [0, 1); Math.random by default. */
  random?: () => number;
  now?: () => number;
  fetch?: typeof fetch;
  /** SYNAPSE_WEBHOOK_ALLOW_PRIVATE: false connects webhook endpoints (not Stepflow's, which the operator set) to public addresses only. */
  allowPrivate: boolean;
  /** The lease on a claimed row; defaults to the timeout plus 30 s. */
  leaseMs?: number;
  /** The periodic pass (rows of other processes, expired leases). */
  intervalMs?: number;
  onOutcome?: (outcome: DeliveryOutcomeLabel) => void;
}

interface Target {
  url: string | undefined;
  secret: string | null;
  body: string | undefined;
  /** Why it cannot be attempted at all. */
  problem?: string;
}

type AttemptResult =
  | { kind: 'response'; status: number; retryAfterMs: number | null; excerpt: string }
  | { kind: 'error'; message: string; interrupted: boolean };

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;

export function createWebhookWorker(options: WebhookWorkerOptions) {
  const { db, logger, policy } = options;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const doFetch = options.fetch ?? fetch;
  // Webhook endpoints are tenants' URLs: pinned to public addresses unless allowed.
  const publicFetch = options.allowPrivate ? doFetch : (options.fetch ?? publicOnlyFetch());
  const leaseMs = options.leaseMs ?? options.timeoutMs + 30_000;
  const intervalMs = options.intervalMs ?? 1_000;
  const stopping = new AbortController();

  let inFlight = 0;
  const active = new Set<Promise<void>>();
  let passing = false;
  let again = false;
  let saturated = false;
  let stopped = false;
  let idle: Promise<void> = Promise.resolve();
  let interval: NodeJS.Timeout | undefined;
  let wake: { timer: NodeJS.Timeout; at: number } | undefined;

  async function claim(limit: number): Promise<WebhookDeliveryRow[]> {
    return db.transaction(async (tx) => {
      const candidates = await tx
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.status, 'pending'),
            lte(webhookDeliveries.nextAttemptAt, sql`now()`),
            or(isNull(webhookDeliveries.claimedUntil), lt(webhookDeliveries.claimedUntil, sql`now()`)),
          ),
        )
        .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.id))
        .limit(limit)
        .for('update', { skipLocked: true });
      if (candidates.length === 0) return [];
      return tx
        .update(webhookDeliveries)
        .set({
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          claimedBy: options.owner,
          claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`,
          lastAttemptAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(inArray(webhookDeliveries.id, candidates.map((c) => c.id)))
        .returning();
    });
  }

  /** URLs, secrets and bodies of a claimed batch, in two queries. */
  async function resolveTargets(rows: WebhookDeliveryRow[]): Promise<Map<string, Target>> {
    const endpointIds = [...new Set(rows.flatMap((r) => (r.webhookId ? [r.webhookId] : [])))];
    const eventIds = [...new Set(rows.filter((r) => r.destination === 'webhook').map((r) => r.runEventId))];
    const endpoints = endpointIds.length
      ? await db.select({ id: webhookEndpoints.id, url: webhookEndpoints.url, secret: webhookEndpoints.secret }).from(webhookEndpoints).where(inArray(webhookEndpoints.id, endpointIds))
      : [];
    const envelopes = eventIds.length ? await db.select({ id: runEvents.id, envelope: runEvents.envelope }).from(runEvents).where(inArray(runEvents.id, eventIds)) : [];
    const endpointById = new Map(endpoints.map((e) => [e.id, e]));
    const envelopeById = new Map(envelopes.map((e) => [e.id, e.envelope]));
    const targets = new Map<string, Target>();
    for (const row of rows) {
      if (row.destination === 'stepflow') {
        const url = options.stepflow.url;
        targets.set(row.id, {
          url,
          secret: options.stepflow.secret ?? null,
          body: row.payload ? JSON.stringify(row.payload) : undefined,
          ...(url ? {} : { problem: 'STEPFLOW_EVENTS_URL is not set' }),
        });
        continue;
      }
      const endpoint = row.webhookId ? endpointById.get(row.webhookId) : undefined;
      const envelope = envelopeById.get(row.runEventId);
      targets.set(row.id, {
        url: endpoint?.url,
        secret: endpoint?.secret ?? null,
        body: envelope ? JSON.stringify(envelope) : undefined,
        ...(!endpoint ? { problem: 'the webhook was deleted' } : !envelope ? { problem: 'the event is no longer stored' } : {}),
      });
    }
    return targets;
  }

  async function readExcerpt(response: Response): Promise<string> {
    if (!response.body) return '';
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      while (size < MAX_RESPONSE_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        size += value.byteLength;
      }
    } catch {
      // A body that fails half-way still leaves its status.
    } finally {
      void reader.cancel().catch(() => {});
    }
    const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
    return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, MAX_ERROR_EXCERPT);
  }

  async function attempt(url: string, headers: Record<string, string>, body: string, tenantUrl: boolean): Promise<AttemptResult> {
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs), stopping.signal]);
    const blocked = tenantUrl && !options.allowPrivate ? blockedHost(url) : null;
    if (blocked) return { kind: 'error', message: `${blocked}: webhooks may only reach public addresses`, interrupted: false };
    try {
      const response = await (tenantUrl ? publicFetch : doFetch)(url, { method: 'POST', headers, body, redirect: 'manual', signal });
      if (isDelivered(response.status)) {
        void response.body?.cancel().catch(() => {});
        return { kind: 'response', status: response.status, retryAfterMs: null, excerpt: '' };
      }
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
      const excerpt = await readExcerpt(response);
      return { kind: 'response', status: response.status, retryAfterMs, excerpt };
    } catch (error) {
      if (stopping.signal.aborted) return { kind: 'error', message: 'interrupted: the gateway is shutting down', interrupted: true };
      const name = error instanceof Error ? error.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'error', message: `timed out after ${options.timeoutMs} ms`, interrupted: false };
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return { kind: 'error', message: `${error instanceof Error ? error.message : String(error)}${cause}`.slice(0, MAX_ERROR_EXCERPT), interrupted: false };
    }
  }

  /** Writes the outcome of this worker's attempt; false when the lease was lost meanwhile. */
  async function record(row: WebhookDeliveryRow, patch: PgUpdateSetSource<typeof webhookDeliveries>): Promise<boolean> {
    const updated = await db
      .update(webhookDeliveries)
      .set({ ...patch, claimedBy: null, claimedUntil: null, updatedAt: sql`now()` })
      .where(and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.claimedBy, options.owner), eq(webhookDeliveries.attempts, row.attempts)))
      .returning({ id: webhookDeliveries.id });
    if (updated.length === 0) logger.warn({ deliveryId: row.id, attempt: row.attempts }, 'webhook delivery: lease lost before the outcome was recorded');
    return updated.length > 0;
  }

  async function deliver(row: WebhookDeliveryRow, target: Target): Promise<void> {
    const context = { deliveryId: row.id, attempt: row.attempts, destination: row.destination, webhookId: row.webhookId, runId: row.runId };
    if (row.attempts > policy.maxAttempts) {
      // A crash (or lost lease) during the last attempt: nothing is left to try.
      if (await record(row, { status: 'dead_lettered', lastError: 'the last attempt was interrupted' })) options.onOutcome?.('dead_lettered');
      logger.warn(context, 'webhook delivery dead-lettered');
      return;
    }
    if (target.problem || !target.url || target.body === undefined || !isWebhookUrl(target.url)) {
      const problem = target.problem ?? (target.body === undefined ? 'nothing to send' : 'the URL is not an http(s) URL');
      if (await record(row, { status: 'failed', lastError: problem, lastStatus: null })) options.onOutcome?.('failed');
      logger.warn({ ...context, problem }, 'webhook delivery failed without an attempt');
      return;
    }
    const headers = deliveryHeaders({ deliveryId: row.id, attempt: row.attempts, eventType: row.eventType, eventSeq: row.eventSeq, body: target.body, nowMs: now(), secret: target.secret });
    const result = await attempt(target.url, headers, target.body, row.destination === 'webhook');
    if (result.kind === 'error' && result.interrupted) {
      // Not the receiver's fault: due again at once, for whichever gateway is still running.
      await record(row, { status: 'pending', nextAttemptAt: sql`now()`, lastError: result.message, lastStatus: null }).catch(() => {});
      return;
    }
    const lastStatus = result.kind === 'response' ? result.status : null;
    const delivered = result.kind === 'response' && isDelivered(result.status);
    const lastError = delivered ? null : result.kind === 'error' ? result.message : `HTTP ${result.status}${result.excerpt ? `: ${result.excerpt}` : ''}`;
    const step = nextStep(row.attempts, delivered ? { kind: 'delivered' } : { kind: 'failed', retryAfterMs: result.kind === 'response' ? result.retryAfterMs : null }, policy, random);
    if (step.kind === 'delivered') {
      if (await record(row, { status: 'delivered', deliveredAt: sql`now()`, lastStatus, lastError: null })) options.onOutcome?.('delivered');
      logger.debug({ ...context, status: lastStatus }, 'webhook delivered');
    } else if (step.kind === 'retry') {
      const recorded = await record(row, {
        status: 'pending',
        nextAttemptAt: sql`now() + make_interval(secs => ${step.delayMs / 1000})`,
        lastStatus,
        lastError,
      });
      if (recorded) {
        options.onOutcome?.('retried');
        wakeIn(step.delayMs);
      }
      logger.info({ ...context, status: lastStatus, retryInMs: step.delayMs, schedule: step.reason }, 'webhook delivery failed; will retry');
    } else {
      if (await record(row, { status: 'dead_lettered', lastStatus, lastError })) options.onOutcome?.('dead_lettered');
      logger.warn({ ...context, status: lastStatus }, 'webhook delivery dead-lettered after its last attempt');
    }
  }

  function start(row: WebhookDeliveryRow, target: Target): void {
    inFlight += 1;
    const done: Promise<void> = deliver(row, target)
      .catch((error: unknown) => {
        // The lease expires and another pass takes the row again (with the next attempt number).
        logger.warn({ deliveryId: row.id, err: error instanceof Error ? error.message : String(error) }, 'webhook delivery: could not record the attempt');
      })
      .finally(() => {
        inFlight -= 1;
        active.delete(done);
        // Refill in batches rather than one claim per finished delivery.
        if (saturated && inFlight <= Math.floor(options.concurrency / 2)) kick();
      });
    active.add(done);
  }

  async function pass(): Promise<void> {
    for (;;) {
      if (stopped) return;
      const free = options.concurrency - inFlight;
      saturated = free <= 0;
      if (saturated) return;
      const rows = await claim(free);
      if (rows.length === 0) return;
      const targets = await resolveTargets(rows);
      for (const row of rows) start(row, targets.get(row.id)!);
      if (rows.length < free) return;
    }
  }

  /** Asks for a pass now; calls during a pass coalesce into one more. */
  function kick(): void {
    if (stopped) return;
    if (passing) {
      again = true;
      return;
    }
    passing = true;
    idle = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again && !stopped);
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'webhook worker: pass failed; will retry');
      } finally {
        passing = false;
      }
    })();
  }

  /** A pass in `ms`: this worker's own retries go out on time, not on the next periodic pass. One timer, for the earliest. */
  function wakeIn(ms: number): void {
    if (stopped) return;
    const at = now() + ms;
    if (wake && wake.at <= at) return;
    if (wake) clearTimeout(wake.timer);
    wake = {
      at,
      timer: setTimeout(() => {
        wake = undefined;
        kick();
      }, Math.max(0, ms) + 5),
    };
  }

  return {
    kick,
    start() {
      if (stopped || interval) return;
      interval = setInterval(kick, intervalMs);
      kick();
    },
    /** In-flight attempts are aborted (and due again at once); waits for their write-backs. */
    async stop() {
      stopped = true;
      if (interval) clearInterval(interval);
      if (wake) clearTimeout(wake.timer);
      stopping.abort();
      await idle;
      await Promise.allSettled([...active]);
    },
    /** Deliveries in flight now (for tests and metrics). */
    inFlight: () => inFlight,
  };
}
