// Appends an event to a run's log and moves its state, inside the caller's
// transaction. The run row is locked first, so sequence numbers are gap-free
// and per-run ordered even with several writers (relay, ingest, sweeper).
import { eq, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { runEvents, runs } from '../db/schema.js';
import { type EventEnvelope, type EventShortType, isTerminal, nextRunState, type RunState } from '../protocol/index.js';

export type RunRow = typeof runs.$inferSelect;
export type RunEventRow = typeof runEvents.$inferSelect;
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Executor = Database | Tx;

/**
 * Runs inside the transaction that stored an event (for example to enqueue
 * webhook deliveries through the outbox): it commits or rolls back with it.
 */
export type StoredEventHook = ((tx: Tx, event: RunEventRow, run: RunRow) => Promise<void>) & {
  /**
   * Optional: starts the hook's reads for a tenant's events in `tx` now, so
   * they travel with the transaction's first statements instead of after them.
   */
  prefetch?: (tx: Tx, tenant: string) => void;
  /**
   * Optional: what the hook does, as one `INSERT … RETURNING 1` to run inside
   * a single statement that stored events: it reads the stored events from the
   * CTE `ev` (run_events rows: `id`, `seq`, `type`, `tenant`, `run_id`). It
   * covers an event when `covers(run, event)` says so (a run's `requested` and
   * `dispatched` always). A single-statement write with an event it does not
   * cover takes a transaction instead; a batch's transaction runs it in its
   * insert when it covers every event of the batch, and calls the hook per
   * event otherwise (never both for one event: the SQL does part of what the
   * hook does for an event it does not cover).
   */
  inStatement?: {
    insert: SQL;
    covers(run: RunRow, event: Pick<RunEventRow, 'type' | 'state'>): boolean;
    /** After the commit: how many rows the insert wrote. */
    inserted(count: number): void;
  };
};

export interface AppendEvent {
  shortType: EventShortType;
  envelope: EventEnvelope;
  reason?: string | null;
  /** Extra column updates when the state moves (output, error, timestamps). */
  patch?: Partial<typeof runs.$inferInsert>;
}

export interface AppendResult {
  run: RunRow;
  event: RunEventRow;
  /** False when the run was already terminal or the event does not move it. */
  moved: boolean;
}

export async function appendRunEvent(tx: Executor, runId: string, input: AppendEvent): Promise<AppendResult | null> {
  const [current] = await tx.select().from(runs).where(eq(runs.id, runId)).for('update');
  if (!current) return null;
  const from = current.state as RunState;
  const to = nextRunState(from, input.shortType);
  const moved = to !== from;
  const terminal = isTerminal(to);
  const [event] = await tx
    .insert(runEvents)
    .values({
      runId,
      seq: current.nextSeq,
      tenant: current.tenant,
      source: input.envelope.source,
      eventId: input.envelope.id,
      type: input.envelope.type,
      time: new Date(input.envelope.time),
      state: to,
      reason: input.reason ?? null,
      data: input.envelope.data,
      envelope: input.envelope as unknown as Record<string, unknown>,
    })
    .returning();
  const [run] = await tx
    .update(runs)
    .set({
      nextSeq: current.nextSeq + 1,
      lastEventAt: sql`now()`,
      updatedAt: sql`now()`,
      ...(moved ? { state: to, reason: input.reason ?? null, ...(input.patch ?? {}) } : {}),
      ...(moved && to === 'dispatched' ? { dispatchedAt: sql`now()` } : {}),
      ...(moved && terminal ? { finishedAt: sql`now()` } : {}),
    })
    .where(eq(runs.id, runId))
    .returning();
  return { run: run!, event: event!, moved };
}
