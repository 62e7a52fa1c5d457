// The outbox relay: publishes committed commands with QoS 1, marks them sent
// and moves their runs to `dispatched`. Rows are leased (FOR UPDATE SKIP
// LOCKED, then a claim with an expiry), so several gateways share the work and
// one relay never publishes a row twice. While the broker is unreachable the
// commands wait in the outbox; they go out when it returns.
import { and, asc, eq, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { outbox } from '../db/schema.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import { buildGatewayEvent } from '../protocol/index.js';
import { appendRunEvent, type RunEventRow, type RunRow, type StoredEventHook } from './events.js';

export interface RelayOptions {
  db: Database;
  bus: MqttBus;
  logger: Logger;
  /** This relay's name in leases (unique per process). */
  owner: string;
  newId: () => string;
  now: () => number;
  /** Embedded broker only: whether anyone will receive a topic; commands with no receiver wait. */
  hasSubscriber?: (topic: string) => Promise<boolean>;
  batchSize?: number;
  leaseMs?: number;
  /** Hold every command (maintenance; tests of crash recovery). */
  paused?: boolean;
  onPublished?: (count: number) => void;
  onRunChanged?: (run: RunRow) => void;
  onEvent?: (event: RunEventRow, run: RunRow) => void;
  onStoredInTx?: StoredEventHook;
}

export type Relay = ReturnType<typeof createRelay>;

export function createRelay(options: RelayOptions) {
  const { db, bus, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const leaseMs = options.leaseMs ?? 60_000;
  let running = false;
  let again = false;
  let stopped = false;
  let idle: Promise<void> = Promise.resolve();

  async function claim(): Promise<Array<typeof outbox.$inferSelect>> {
    return db.transaction(async (tx) => {
      const candidates = await tx
        .select({ id: outbox.id })
        .from(outbox)
        .where(and(isNull(outbox.sentAt), eq(outbox.kind, 'command'), or(isNull(outbox.claimedUntil), lt(outbox.claimedUntil, sql`now()`))))
        .orderBy(asc(outbox.id))
        .limit(batchSize)
        .for('update', { skipLocked: true });
      if (candidates.length === 0) return [];
      return tx
        .update(outbox)
        .set({ claimedBy: options.owner, claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`, attempts: sql`${outbox.attempts} + 1` })
        .where(inArray(outbox.id, candidates.map((c) => c.id)))
        .returning();
    });
  }

  async function release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db.update(outbox).set({ claimedBy: null, claimedUntil: null }).where(and(inArray(outbox.id, ids), eq(outbox.claimedBy, options.owner)));
  }

  async function markSent(rows: Array<typeof outbox.$inferSelect>): Promise<Array<{ run: RunRow; event: RunEventRow; moved: boolean }>> {
    const changed: Array<{ run: RunRow; event: RunEventRow; moved: boolean }> = [];
    await db.transaction(async (tx) => {
      await tx.update(outbox).set({ sentAt: sql`now()`, claimedUntil: null }).where(inArray(outbox.id, rows.map((r) => r.id)));
      for (const row of rows) {
        const payload = row.payload as { id: string; traceId: string; tenant: string; target: string; command?: string };
        // A cancel request is not a step of the run's life: only executes move it to dispatched.
        if (!row.runId || payload.command === 'synapse.run.cancel') continue;
        const event = buildGatewayEvent({
          id: options.newId(),
          now: options.now(),
          tenant: payload.tenant,
          shortType: 'dispatched',
          data: { status: 'dispatched' },
          traceId: payload.traceId,
          resourceTrn: payload.target,
          runId: row.runId,
          correlationId: payload.id,
        });
        if (!event.ok) {
          logger.error({ runId: row.runId, err: event.error.message }, 'could not build the dispatched event');
          continue;
        }
        const appended = await appendRunEvent(tx, row.runId, { shortType: 'dispatched', envelope: event.value, reason: 'command published' });
        if (appended) {
          await options.onStoredInTx?.(tx, appended.event, appended.run);
          changed.push(appended);
        }
      }
    });
    return changed;
  }

  async function drainOnce(): Promise<number> {
    if (options.paused || !bus.isConnected()) return 0;
    const rows = await claim();
    if (rows.length === 0) return 0;
    const ready: typeof rows = [];
    const waiting: number[] = [];
    for (const row of rows) {
      if (options.hasSubscriber && !(await options.hasSubscriber(row.topic))) waiting.push(row.id);
      else ready.push(row);
    }
    await release(waiting);
    if (ready.length === 0) return 0;
    // Keep the lease while publishes wait for a broker that went away mid-batch.
    const renew = setInterval(() => {
      void db
        .update(outbox)
        .set({ claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
        .where(and(inArray(outbox.id, ready.map((r) => r.id)), eq(outbox.claimedBy, options.owner)))
        .catch(() => {});
    }, leaseMs / 3);
    try {
      // One connection keeps the order of commands; PUBACKs are awaited together.
      await Promise.all(ready.map((row) => bus.publish(row.topic, JSON.stringify(row.payload), 1)));
    } finally {
      clearInterval(renew);
    }
    options.onPublished?.(ready.length);
    const changed = await markSent(ready);
    for (const { run, event, moved } of changed) {
      options.onEvent?.(event, run);
      if (moved) options.onRunChanged?.(run);
    }
    return ready.length;
  }

  async function loop(): Promise<void> {
    running = true;
    try {
      do {
        again = false;
        const published = await drainOnce();
        if (published > 0 && published >= batchSize - 1) again = true;
      } while (again && !stopped);
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'outbox relay: will retry');
    } finally {
      running = false;
    }
  }

  /** Asks the relay to publish now; calls while it runs coalesce into one more pass. */
  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    idle = loop();
  }

  return {
    kick,
    drainOnce,
    setPaused(paused: boolean) {
      options.paused = paused;
      if (!paused) kick();
    },
    async stop() {
      stopped = true;
      await idle;
    },
  };
}

