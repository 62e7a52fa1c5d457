// The outbox relay: publishes committed commands with QoS 1, marks them sent
// and moves their runs to `dispatched`. Rows are leased (FOR UPDATE SKIP
// LOCKED, then a claim with an expiry), so several gateways share the work and
// one relay never publishes a row twice. While the broker is unreachable the
// commands wait in the outbox; they go out when it returns.
import { and, asc, eq, getTableColumns, inArray, isNull, lt, or, type Query, sql } from 'drizzle-orm';
import { PgDialect, type SelectedFieldsOrdered } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { outbox, runEvents, runs } from '../db/schema.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import { buildGatewayEvent, type EventEnvelope, isTerminal, nextRunState, type RunState } from '../protocol/index.js';
import { type AppendResult, appendRunEvent, type RunEventRow, type RunRow, type StoredEventHook, type Tx } from './events.js';

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

/** drainOnce: only rows for topics without a receiver were claimed (and released). */
const HELD_ONLY = -1;

interface DispatchedEvent {
  runId: string;
  envelope: EventEnvelope;
}

/**
 * `appendRunEvent(tx, runId, { shortType: 'dispatched', envelope, reason: 'command published' })`
 * for each item, with the same rows written and returned, in three statements
 * for the whole batch (lock the runs in id order, insert the events, update the
 * runs) instead of three per item. A batch naming a run twice takes the
 * one-at-a-time path, whose sequence numbers follow each other.
 */
const allColumns = (table: typeof runs | typeof runEvents) =>
  Object.entries(getTableColumns(table)).map(([key, field]) => ({ path: [key], field })) as SelectedFieldsOrdered;
const dialect = new PgDialect();
/** `tx.insert(runEvents).values([...]).returning()` for a batch, as arrays of its columns (nulls stay SQL NULL). */
const insertDispatched = {
  query: dialect.sqlToQuery(sql`insert into ${runEvents} (run_id, seq, tenant, source, event_id, type, time, state, reason, data, envelope)
    select u.run_id, u.seq::int, u.tenant, u.source, u.event_id, u.type, u.time::timestamptz, u.state, ${sql.placeholder('reason')}::text, u.data::jsonb, u.envelope::jsonb
    from unnest(${sql.placeholder('runIds')}::text[], ${sql.placeholder('seqs')}::text[], ${sql.placeholder('tenants')}::text[], ${sql.placeholder('sources')}::text[],
      ${sql.placeholder('eventIds')}::text[], ${sql.placeholder('types')}::text[], ${sql.placeholder('times')}::text[], ${sql.placeholder('states')}::text[],
      ${sql.placeholder('datas')}::text[], ${sql.placeholder('envelopes')}::text[]) as u(run_id, seq, tenant, source, event_id, type, time, state, data, envelope)
    returning ${sql.join(Object.values(getTableColumns(runEvents)).map((c) => sql.identifier(c.name)), sql`, `)}`),
  fields: allColumns(runEvents),
};
/** The runs' update after their dispatched events: moved runs go to `dispatched`, the others only advance their sequence. */
const updateDispatched = {
  query: dialect.sqlToQuery(sql`update ${runs} set next_seq = ${runs}.next_seq + 1, last_event_at = now(), updated_at = now(),
      state = case when u.moved::bool then 'dispatched' else ${runs}.state end,
      reason = case when u.moved::bool then ${sql.placeholder('reason')}::text else ${runs}.reason end,
      dispatched_at = case when u.moved::bool then now() else ${runs}.dispatched_at end
    from unnest(${sql.placeholder('ids')}::text[], ${sql.placeholder('moved')}::text[]) as u(id, moved)
    where ${runs}.id = u.id
    returning ${sql.join(Object.values(getTableColumns(runs)).map((c) => sql`${runs}.${sql.identifier(c.name)}`), sql`, `)}`),
  fields: allColumns(runs),
};
function execute<T>(tx: Tx, statement: { query: Query; fields: SelectedFieldsOrdered }, name: string, values: Record<string, unknown>): Promise<T> {
  return tx._.session.prepareQuery<{ execute: T; all: unknown; values: unknown }>(statement.query, statement.fields, name, true).execute(values);
}

async function appendDispatched(tx: Tx, items: DispatchedEvent[]): Promise<Array<AppendResult | null>> {
  const reason = 'command published';
  if (items.length === 0) return [];
  if (new Set(items.map((i) => i.runId)).size !== items.length) {
    const results: Array<AppendResult | null> = [];
    for (const item of items) results.push(await appendRunEvent(tx, item.runId, { shortType: 'dispatched', envelope: item.envelope, reason }));
    return results;
  }
  // One shape whatever the batch's size (an array parameter): a prepared statement, one round trip.
  const locked = await tx
    .select()
    .from(runs)
    .where(sql`${runs.id} = any(${sql.placeholder('ids')}::text[])`)
    .orderBy(asc(runs.id))
    .for('update')
    .prepare('relay_lock_runs')
    .execute({ ids: items.map((i) => i.runId) });
  const current = new Map(locked.map((run) => [run.id, run]));
  const plans = items.flatMap((item) => {
    const run = current.get(item.runId);
    if (!run) return [];
    const from = run.state as RunState;
    const to = nextRunState(from, 'dispatched');
    return [{ item, run, to, moved: to !== from }];
  });
  if (plans.length === 0) return items.map(() => null);
  // A run that moves goes to `dispatched`, which is not terminal: that is what the update below writes.
  if (plans.some((p) => p.moved && (p.to !== 'dispatched' || isTerminal(p.to)))) {
    const results: Array<AppendResult | null> = [];
    for (const item of items) results.push(await appendRunEvent(tx, item.runId, { shortType: 'dispatched', envelope: item.envelope, reason }));
    return results;
  }
  // The events' insert and the runs' update take arrays (one shape whatever the
  // batch: prepared statements, no per-batch query building) and travel together.
  // Every array is text[] (cast in SQL): postgres.js, as drizzle sets it up, does
  // not serialise int, bool or timestamptz arrays.
  const time = (t: string | number) => new Date(t).toISOString();
  const [events, updated] = await Promise.all([
    execute<RunEventRow[]>(tx, insertDispatched, 'relay_insert_dispatched', {
      runIds: plans.map((p) => p.item.runId),
      seqs: plans.map((p) => String(p.run.nextSeq)),
      tenants: plans.map((p) => p.run.tenant),
      sources: plans.map((p) => p.item.envelope.source),
      eventIds: plans.map((p) => p.item.envelope.id),
      types: plans.map((p) => p.item.envelope.type),
      times: plans.map((p) => time(p.item.envelope.time)),
      states: plans.map((p) => p.to),
      reason,
      datas: plans.map((p) => (p.item.envelope.data === undefined || p.item.envelope.data === null ? null : JSON.stringify(p.item.envelope.data))),
      envelopes: plans.map((p) => JSON.stringify(p.item.envelope)),
    }),
    execute<RunRow[]>(tx, updateDispatched, 'relay_update_dispatched', {
      ids: plans.map((p) => p.item.runId),
      moved: plans.map((p) => String(p.moved)),
      reason,
    }),
  ]);
  const eventOf = new Map(events.map((e) => [e.runId, e]));
  const runOf = new Map(updated.map((r) => [r.id, r]));
  const byRun = new Map(plans.map((p) => [p.item.runId, { run: runOf.get(p.item.runId)!, event: eventOf.get(p.item.runId)!, moved: p.moved }]));
  return items.map((item) => byRun.get(item.runId) ?? null);
}

export function createRelay(options: RelayOptions) {
  const { db, bus, logger } = options;
  const batchSize = options.batchSize ?? 200;
  const leaseMs = options.leaseMs ?? 60_000;
  let running = false;
  let again = false;
  let stopped = false;
  let idle: Promise<void> = Promise.resolve();

  // One statement (lock the candidates, skipping rows another relay holds, and
  // lease them) instead of a four-statement transaction, built and prepared once.
  // Topics nobody receives yet (embedded broker) are passed over: commands held
  // for one absent Axon must not stall everyone else's. `held` is usually empty.
  const claimStatement = db
    .update(outbox)
    .set({ claimedBy: options.owner, claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`, attempts: sql`${outbox.attempts} + 1` })
    .where(
      inArray(
        outbox.id,
        db
          .select({ id: outbox.id })
          .from(outbox)
          .where(
            and(
              isNull(outbox.sentAt),
              eq(outbox.kind, 'command'),
              or(isNull(outbox.claimedUntil), lt(outbox.claimedUntil, sql`now()`)),
              sql`not (${outbox.topic} = any(${sql.placeholder('held')}::text[]))`,
            ),
          )
          .orderBy(asc(outbox.id))
          .limit(batchSize)
          .for('update', { skipLocked: true }),
      ),
    )
    .returning()
    .prepare('outbox_claim');
  /** Topics found without a receiver during the current loop. */
  const heldTopics = new Set<string>();

  async function claim(): Promise<Array<typeof outbox.$inferSelect>> {
    const rows = await claimStatement.execute({ held: [...heldTopics] });
    // UPDATE … RETURNING has no order: publish in outbox order.
    return rows.sort((a, b) => a.id - b.id);
  }

  async function release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db.update(outbox).set({ claimedBy: null, claimedUntil: null }).where(and(inArray(outbox.id, ids), eq(outbox.claimedBy, options.owner)));
  }

  async function markSent(rows: Array<typeof outbox.$inferSelect>): Promise<Array<{ run: RunRow; event: RunEventRow; moved: boolean }>> {
    const changed: Array<{ run: RunRow; event: RunEventRow; moved: boolean }> = [];
    await db.transaction(async (tx) => {
      const dispatched: DispatchedEvent[] = [];
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
        dispatched.push({ runId: row.runId, envelope: event.value });
      }
      for (const tenant of new Set(dispatched.map((d) => d.envelope.tenant))) options.onStoredInTx?.prefetch?.(tx, tenant);
      // Sent rows and the first statement of the appends travel together.
      const [, appended] = await Promise.all([
        tx
          .update(outbox)
          .set({ sentAt: sql`now()`, claimedUntil: null })
          .where(sql`${outbox.id} = any(${sql.placeholder('ids')}::bigint[])`)
          .prepare('relay_mark_sent')
          .execute({ ids: rows.map((r) => r.id) }),
        appendDispatched(tx, dispatched),
      ]);
      for (const result of appended) {
        if (!result) continue;
        await options.onStoredInTx?.(tx, result.event, result.run);
        changed.push(result);
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
    // One look-up per topic and pass (a batch is mostly one service's commands).
    const receivers = new Map<string, Promise<boolean>>();
    for (const row of rows) {
      let receiver = receivers.get(row.topic);
      if (!receiver && options.hasSubscriber) receivers.set(row.topic, (receiver = options.hasSubscriber(row.topic)));
      if (receiver && !(await receiver)) {
        waiting.push(row.id);
        heldTopics.add(row.topic);
      } else ready.push(row);
    }
    await release(waiting);
    // Nothing ready, but held rows were passed over: look past them.
    if (ready.length === 0) return waiting.length > 0 ? HELD_ONLY : 0;
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
    heldTopics.clear();
    try {
      do {
        again = false;
        const published = await drainOnce();
        if (published === HELD_ONLY || (published > 0 && published >= batchSize - 1)) again = true;
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
    /** Stops passes; waits at most `graceMs` for one in flight (a publish to an unreachable broker never ends). */
    async stop(graceMs = 2_000) {
      stopped = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    },
  };
}

