// The outbox relay: publishes committed commands with QoS 1, marks them sent
// and moves their runs to `dispatched`. Rows are leased (FOR UPDATE SKIP
// LOCKED, then a claim with an expiry), so several gateways share the work and
// one relay never publishes a row twice. While the broker is unreachable the
// commands wait in the outbox; they go out when it returns.
//
// A trigger's row is written already leased to this relay (`lease()`) and
// handed over after its commit (`handOff`): it is published at once, with no
// claim statement on the way, and marked sent in one statement. A row handed
// over but not published (a crash, a broker gone) keeps its lease until it
// expires, or until a relay starts again under the same owner name and releases
// what it held (before its first claim); then any relay's claim takes it.
//
// After a small pass (an idle gateway), the `dispatched` records wait a moment
// (`deferMarkMs`): the ingest of an Axon's quick answer takes them
// (`takeDispatch`) and writes them with the answer in one statement; the rest
// are written when the moment ends, or at once when an answer waits for them.
import { and, asc, eq, getTableColumns, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { PgDialect, type SelectedFieldsOrdered } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { keySet } from '../db/key-set.js';
import { outbox, runEvents, runs } from '../db/schema.js';
import type { MqttBus } from '../mqtt/bus.js';
import type { Logger } from '../observability/logger.js';
import { buildGatewayEvent, type EventEnvelope } from '../protocol/index.js';
import { envelopeJson } from '../events/envelope-json.js';
import type { RunVersions } from './versions.js';
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
  /** Where runs marked dispatched in one statement are remembered with their row version. */
  runVersions?: RunVersions;
  /**
   * How long a small batch's `dispatched` records wait after the PUBACK for the
   * Axon's answer, whose ingest may write them in its own statement
   * (`takeDispatch`); 0 (the default) records them at once.
   */
  deferMarkMs?: number;
}

/** A published command whose `dispatched` record an ingest took over (takeDispatch). */
export interface TakenDispatch {
  readonly runId: string;
  readonly outboxId: number;
  readonly envelope: EventEnvelope;
  /** The reason the `dispatched` event and its run carry. */
  readonly reason: string;
}

/** Relay batches of at most this many commands defer their `dispatched` records (deferMarkMs). */
const DEFER_MAX_ROWS = 8;

export type Relay = ReturnType<typeof createRelay>;

/** drainOnce: only rows for topics without a receiver were claimed (and released). */
const HELD_ONLY = -1;

interface DispatchedEvent {
  runId: string;
  envelope: EventEnvelope;
}

/** What a command envelope in the outbox tells the relay (ARCHITECTURE.md section 2). */
interface CommandPayload {
  id: string;
  traceId: string;
  tenant: string;
  target: string;
  command?: string;
}

/** An outbox row to publish: claimed by this relay, or handed over by the trigger that wrote it. */
export interface OutboxCommand {
  id: number;
  runId: string | null;
  topic: string;
  payload: CommandPayload;
  /** The payload as published (JSON); a claimed row's jsonb is serialised again. */
  text: string;
}

const dialect = new PgDialect();
const DISPATCHED_REASON = 'command published';

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

  async function claim(): Promise<OutboxCommand[]> {
    const rows = await claimStatement.execute({ held: [...heldTopics] });
    // UPDATE … RETURNING has no order: publish in outbox order.
    return rows
      .sort((a, b) => a.id - b.id)
      .map((row) => ({ id: row.id, runId: row.runId, topic: row.topic, payload: row.payload as unknown as CommandPayload, text: JSON.stringify(row.payload) }));
  }

  async function release(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    await db.update(outbox).set({ claimedBy: null, claimedUntil: null }).where(and(inArray(outbox.id, ids), eq(outbox.claimedBy, options.owner)));
  }

  /** The dispatched event of each executed command (a cancel request is not a step of the run's life). */
  function dispatchedEvents(rows: OutboxCommand[]): DispatchedEvent[] {
    const dispatched: DispatchedEvent[] = [];
    for (const row of rows) {
      if (!row.runId || row.payload.command === 'synapse.run.cancel') continue;
      const event = buildGatewayEvent({
        id: options.newId(),
        now: options.now(),
        tenant: row.payload.tenant,
        shortType: 'dispatched',
        data: { status: 'dispatched' },
        traceId: row.payload.traceId,
        resourceTrn: row.payload.target,
        runId: row.runId,
        correlationId: row.payload.id,
      });
      if (!event.ok) {
        logger.error({ runId: row.runId, err: event.error.message }, 'could not build the dispatched event');
        continue;
      }
      dispatched.push({ runId: row.runId, envelope: event.value });
    }
    return dispatched;
  }

  // Marking rows sent, locking their runs in id order, appending the dispatched
  // events, moving `requested` runs to `dispatched` and enqueueing the events'
  // webhook deliveries, as ONE statement of data-modifying CTEs: atomic on its
  // own, one round trip and no BEGIN/COMMIT, so an Axon's quick answer waits
  // for the run's lock as briefly as possible. The rows are appendRunEvent's
  // (`dispatched` moves only `requested`, run-state.ts), the fallback below.
  const hookSql = options.onStoredInTx ? options.onStoredInTx.inStatement : undefined;
  const runColumnNames = Object.values(getTableColumns(runs)).map((c) => c.name);
  const eventColumnNames = Object.values(getTableColumns(runEvents)).map((c) => c.name);
  const markSentStatement =
    !options.onStoredInTx || hookSql
      ? {
          query: dialect.sqlToQuery(sql`with input as (
              select * from unnest(${sql.placeholder('runIds')}::text[], ${sql.placeholder('sources')}::text[], ${sql.placeholder('eventIds')}::text[],
                ${sql.placeholder('types')}::text[], ${sql.placeholder('times')}::text[], ${sql.placeholder('envelopes')}::text[])
                as u(run_id, source, event_id, type, time, envelope)),
            sent as (update ${outbox} set sent_at = now(), claimed_until = null where id in ${keySet('outboxIds', 'outboxCount', 'bigint')}),
            locked as (select r.id, r.state, r.next_seq from ${runs} r where r.id in ${keySet('runIds', 'runCount', 'text')} order by r.id for update),
            upd as (update ${runs} r set next_seq = l.next_seq + 1, last_event_at = now(), updated_at = now(),
                state = case when l.state = 'requested' then 'dispatched' else r.state end,
                reason = case when l.state = 'requested' then ${sql.placeholder('reason')}::text else r.reason end,
                dispatched_at = case when l.state = 'requested' then now() else r.dispatched_at end
              from locked l where r.id = l.id
              returning r.*, l.next_seq as event_seq, l.state = 'requested' as moved, r.xmin::text as version),
            ev as (insert into ${runEvents} (run_id, seq, tenant, source, event_id, type, time, state, reason, data, envelope)
              select upd.id, upd.event_seq, upd.tenant, i.source, i.event_id, i.type, i.time::timestamptz, upd.state, ${sql.placeholder('reason')}::text, i.envelope::jsonb -> 'data', i.envelope::jsonb
              from upd join input i on i.run_id = upd.id
              returning *)${hookSql ? sql`, hook as (${hookSql.insert})` : sql``}
            select ${sql.join(runColumnNames.map((c) => sql`upd.${sql.identifier(c)}`), sql`, `)}, upd.moved, upd.version,
              ${sql.join(eventColumnNames.map((c) => sql`ev.${sql.identifier(c)}`), sql`, `)},
              ${hookSql ? sql`(select count(*) from hook)::int` : sql`0`}
            from upd join ev on ev.run_id = upd.id`),
          fields: [
            ...Object.entries(getTableColumns(runs)).map(([key, field]) => ({ path: ['run', key], field })),
            { path: ['moved'], field: sql<boolean>`` },
            { path: ['version'], field: sql<string>`` },
            ...Object.entries(getTableColumns(runEvents)).map(([key, field]) => ({ path: ['event', key], field })),
            { path: ['hookRows'], field: sql<number>`` },
          ] as SelectedFieldsOrdered,
        }
      : undefined;

  type Changed = { run: RunRow; event: RunEventRow; moved: boolean };

  async function markSent(rows: OutboxCommand[]): Promise<Changed[]> {
    const dispatched = dispatchedEvents(rows);
    if (markSentStatement && new Set(dispatched.map((d) => d.runId)).size === dispatched.length) {
      const time = (t: string | number) => new Date(t).toISOString();
      const result = await db._.session
        .prepareQuery<{ execute: Array<Changed & { hookRows: number; version: string }>; all: unknown; values: unknown }>(
          markSentStatement.query,
          markSentStatement.fields,
          'relay_mark_sent_one',
          true,
        )
        .execute({
          outboxIds: rows.map((r) => r.id),
          outboxCount: rows.length,
          runIds: dispatched.map((d) => d.runId),
          runCount: dispatched.length,
          sources: dispatched.map((d) => d.envelope.source),
          eventIds: dispatched.map((d) => d.envelope.id),
          types: dispatched.map((d) => d.envelope.type),
          times: dispatched.map((d) => time(d.envelope.time)),
          // Made once: the fan-out sends the same text (envelope-json.ts).
          envelopes: dispatched.map((d) => envelopeJson(d.envelope)),
          reason: DISPATCHED_REASON,
        });
      // Rows with no dispatched event (cancels) are marked sent by the same statement (a
      // data-modifying CTE always runs to completion); they return no row.
      const hookRows = result.reduce((n, r) => n + r.hookRows, 0);
      if (hookSql && hookRows > 0) hookSql.inserted(hookRows);
      for (const { run, version } of result) options.runVersions?.remember({ ...run, version });
      return result.map(({ run, event, moved }) => ({ run, event, moved }));
    }
    // A batch naming a run twice (its events' sequence numbers follow each other),
    // or a hook that cannot say its part in SQL: one event at a time, in a transaction.
    const changed: Changed[] = [];
    await db.transaction(async (tx) => {
      await tx
        .update(outbox)
        .set({ sentAt: sql`now()`, claimedUntil: null })
        .where(inArray(outbox.id, rows.map((r) => r.id)));
      for (const item of dispatched) {
        options.runVersions?.forget(item.runId);
        const result = await appendRunEvent(tx, item.runId, { shortType: 'dispatched', envelope: item.envelope, reason: DISPATCHED_REASON });
        if (!result) continue;
        await options.onStoredInTx?.(tx, result.event, result.run);
        changed.push(result);
      }
    });
    return changed;
  }

  /** Rows handed over by triggers after their commit, leased to this relay. */
  let handedOver: OutboxCommand[] = [];
  /** Runs whose handed-over command is not yet published and marked sent (see `dispatching`). */
  const dispatchWaits = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  /** Published commands whose `dispatched` record waits for the Axon's answer (deferMarkMs), by run. */
  const unmarked = new Map<string, OutboxCommand>();
  /** Records taken by an ingest, until it wrote them or gave them back. */
  const takenRows = new Map<string, OutboxCommand>();
  let markTimer: NodeJS.Timeout | undefined;
  /** Deferred records go to the database one flush after the other. */
  let marking: Promise<void> = Promise.resolve();
  /** From now until settleDispatch, an answer for this run waits for its `dispatched` record (`dispatching`). */
  function awaitDispatch(runId: string): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    dispatchWaits.set(runId, { promise, resolve });
  }
  function settleDispatch(commands: readonly OutboxCommand[]): void {
    for (const { runId } of commands) {
      // A deferred record is still to be written: its waiters keep waiting.
      if (runId !== null && unmarked.has(runId)) continue;
      const wait = runId === null ? undefined : dispatchWaits.get(runId);
      if (!wait) continue;
      dispatchWaits.delete(runId!);
      wait.resolve();
    }
  }
  let wakeScheduled = false;
  /** A claim pass is wanted (a timer, a reconnect, a row written unleased). */
  let claimWanted = true;
  /**
   * False until this relay released what its owner name held in a previous life
   * (a crash after a trigger's commit): only then may triggers lease rows to it.
   */
  let leasing = false;

  async function drainOnce(): Promise<number> {
    const direct = handedOver.splice(0, batchSize);
    let rows = direct;
    try {
      return await drainRows(direct, (passRows) => (rows = passRows));
    } finally {
      // Whatever happened to them (published and marked, released, failed), nobody waits on these runs any more.
      settleDispatch(direct);
      settleDispatch(rows);
    }
  }

  async function drainRows(direct: OutboxCommand[], onRows: (rows: OutboxCommand[]) => void): Promise<number> {
    if (options.paused || !bus.isConnected()) {
      // Handed-over rows go back to the claimable pool, for whichever relay can publish first.
      await release(direct.map((r) => r.id));
      return 0;
    }
    if (!leasing) {
      await db.update(outbox).set({ claimedBy: null, claimedUntil: null }).where(and(eq(outbox.claimedBy, options.owner), isNull(outbox.sentAt)));
      leasing = true;
    }
    const wantClaim = claimWanted || direct.length === 0;
    claimWanted = false;
    let rows = direct;
    if (wantClaim && direct.length < batchSize) {
      const claimed = await claim();
      // A handed-over row still queued when its lease ran out (a long backlog) comes back claimed: publish it once.
      const ids = new Set(claimed.map((r) => r.id));
      if (ids.size > 0) handedOver = handedOver.filter((r) => !ids.has(r.id));
      rows = [...direct.filter((r) => !ids.has(r.id)), ...claimed];
      onRows(rows);
    }
    if (rows.length === 0) return 0;
    const ready: OutboxCommand[] = [];
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
      await Promise.all(ready.map((row) => bus.publish(row.topic, row.text, 1)));
    } finally {
      clearInterval(renew);
    }
    options.onPublished?.(ready.length);
    const deferMs = options.deferMarkMs ?? 0;
    if (deferMs > 0 && ready.length <= DEFER_MAX_ROWS && !stopped) {
      // An idle gateway's commands: their `dispatched` records wait a moment for
      // the Axon's answer, which then writes them with its own event in one
      // statement (takeDispatch); cancel requests have none and are marked now.
      const now: OutboxCommand[] = [];
      for (const row of ready) {
        if (row.runId !== null && row.payload.command !== 'synapse.run.cancel') {
          unmarked.set(row.runId, row);
          // A claimed row has no waiters' entry yet: an answer must wait for its record too.
          if (!dispatchWaits.has(row.runId)) awaitDispatch(row.runId);
        } else now.push(row);
      }
      if (unmarked.size > 0) markTimer ??= setTimeout(() => void flushUnmarked(), deferMs);
      if (now.length > 0) await markAndNotify(now);
      return ready.length;
    }
    await markAndNotify(ready);
    return ready.length;
  }

  async function markAndNotify(rows: OutboxCommand[]): Promise<void> {
    const changed = await markSent(rows);
    // An Axon's answer waiting on these runs goes to the database first, then the deliveries run.
    settleDispatch(rows);
    for (const { run, event, moved } of changed) {
      options.onEvent?.(event, run);
      if (moved) options.onRunChanged?.(run);
    }
  }

  /** Writes every deferred `dispatched` record now. */
  function flushUnmarked(): Promise<void> {
    clearTimeout(markTimer);
    markTimer = undefined;
    const rows = [...unmarked.values()];
    unmarked.clear();
    if (rows.length === 0) return marking;
    marking = marking
      .then(() => markAndNotify(rows))
      .catch((error: unknown) => {
        // As when a pass fails: the rows stay leased to this relay, unsent, and are published again once their lease ends.
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'outbox relay: marking commands sent failed; they will be published again');
        settleDispatch(rows);
      });
    return marking;
  }

  async function loop(): Promise<void> {
    running = true;
    heldTopics.clear();
    try {
      do {
        again = false;
        const published = await drainOnce();
        if (published === HELD_ONLY || (published > 0 && published >= batchSize - 1)) {
          again = true;
          claimWanted = true;
        }
      } while ((again || handedOver.length > 0) && !stopped);
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'outbox relay: will retry');
      // Whatever was handed over is leased to this relay: claim it back on the next pass.
      claimWanted = true;
    } finally {
      running = false;
    }
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    idle = loop();
  }

  /** Asks the relay for a claim pass now; calls while it runs coalesce into one more pass. */
  function kick(): void {
    claimWanted = true;
    wake();
  }

  return {
    kick,
    drainOnce,
    /**
     * While a command handed over to this relay is not yet published and
     * recorded as dispatched: settles once it is (or once the relay gave the
     * row up). An Axon's answer that arrives first waits for it, so the run's
     * events are stored in the order they happened, without a write conflict.
     */
    dispatching(runId: string): Promise<void> | undefined {
      // A deferred record nobody took: written now, not when its moment ends.
      if (unmarked.has(runId)) void flushUnmarked();
      return dispatchWaits.get(runId)?.promise;
    },
    /**
     * The deferred `dispatched` record of a run, for an ingest that writes it
     * (marking the command sent) in the statement storing the Axon's answer;
     * undefined when there is none. The taker must write it or `giveBack` it.
     */
    takeDispatch(runId: string): TakenDispatch | undefined {
      const row = unmarked.get(runId);
      if (!row) return undefined;
      const [dispatched] = dispatchedEvents([row]);
      if (!dispatched) return undefined;
      unmarked.delete(runId);
      if (unmarked.size === 0) {
        clearTimeout(markTimer);
        markTimer = undefined;
      }
      // Held by the taker from now on (its batch runs alone): nobody else waits on it.
      settleDispatch([row]);
      takenRows.set(runId, row);
      return { runId, outboxId: row.id, envelope: dispatched.envelope, reason: DISPATCHED_REASON };
    },
    /** A taken record the ingest could not write after all: the relay writes it now. */
    giveBack(taken: TakenDispatch): void {
      const row = takenRows.get(taken.runId);
      if (!row) return;
      takenRows.delete(taken.runId);
      unmarked.set(taken.runId, row);
      if (!dispatchWaits.has(taken.runId)) awaitDispatch(taken.runId);
      void flushUnmarked();
    },
    /** A taken record was written by its taker. */
    written(taken: TakenDispatch): void {
      takenRows.delete(taken.runId);
    },
    /** Whether a trigger may write its row leased to this relay and hand it over (null: write it unleased). */
    lease(): { owner: string; seconds: number } | null {
      return !leasing || options.paused || stopped || !bus.isConnected() ? null : { owner: options.owner, seconds: Math.ceil(leaseMs / 1000) };
    },
    /** A committed row leased to this relay: published on the next pass, without a claim. */
    handOff(command: OutboxCommand): void {
      if (stopped) {
        void release([command.id]).catch(() => {});
        return;
      }
      handedOver.push(command);
      if (command.runId !== null && !dispatchWaits.has(command.runId)) awaitDispatch(command.runId);
      // Once the current microtasks have run: before the trigger's answer,
      // which waits for the next turn, and together with the other commands
      // committed in the same read.
      if (wakeScheduled) return;
      wakeScheduled = true;
      queueMicrotask(() => {
        wakeScheduled = false;
        wake();
      });
    },
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
      // Published commands whose record waited: written now.
      await flushUnmarked().catch(() => {});
      // Rows handed over but not published go back to any relay now, not when their lease ends.
      const unpublished = handedOver.splice(0);
      settleDispatch(unpublished);
      await release(unpublished.map((r) => r.id)).catch(() => {});
      for (const wait of dispatchWaits.values()) wait.resolve();
      dispatchWaits.clear();
    },
  };
}

