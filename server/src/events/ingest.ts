// Event ingest: validates EventEnvelopes from Axons (MQTT or HTTP), stores
// each once (unique source+id), appends it to its run's log with the next
// sequence number and moves the run's state, all in one transaction. Events
// that arrive in the same event-loop turn (one socket read carries many) or
// while a transaction runs are batched into the next one, stored with a few
// multi-row statements, so the database sees few large commits under load and
// no waiting (beyond one turn) when idle. Senders are acknowledged after commit.
import { eq, getTableColumns, type Query, type SQL, sql } from 'drizzle-orm';
import { PgDialect, QueryBuilder, type SelectedFieldsOrdered } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { aboutOneRow, keySet } from '../db/key-set.js';
import { outbox, runEvents, runs } from '../db/schema.js';
import type { Logger } from '../observability/logger.js';
import {
  buildEventEnvelope,
  type EventEnvelope,
  gatewaySourceTrn,
  jsonByteSize,
  type NormalisedEvent,
  nextRunState,
  parseEventBytes,
  parseEventEnvelope,
  isTerminal,
  jsonParameter,
  normalisedEvent,
  type EventShortType,
  type RunState,
} from '../protocol/index.js';
import type { RunEventRow, RunRow, StoredEventHook, Tx } from '../runs/events.js';
import type { TakenDispatch } from '../runs/relay.js';
import { type RunVersions, type VersionedRun, withVersion, withoutVersion } from '../runs/versions.js';
import { envelopeJson, envelopesJsonArray, rememberEnvelopeJson } from './envelope-json.js';

export const EVENT_INGEST_LIMITS = {
  /** A run's stored output; beyond it output events are dropped after one marker event. */
  maxRunOutputBytes: 8 * 1024 * 1024,
  /** Events per transaction; larger batches made the embedded database (PGlite) abort under a long QoS 1 stream. */
  maxBatch: 100,
  /** Events per transaction on a real Postgres (postgres.js): a large backlog costs fewer commits and round trips. */
  maxBatchPostgres: 500,
} as const;

export type IngestResult =
  | { ok: true; duplicate: boolean; event?: RunEventRow; run?: RunRow }
  | { ok: false; code: string; path: string; message: string };

export interface EventIngestOptions {
  db: Database;
  logger: Logger;
  newId: () => string;
  now: () => number;
  onRejected?: (code: string) => void;
  /** After commit: an event was stored. */
  onEvent?: (event: RunEventRow, run: RunRow) => void;
  /** After commit: a run's state changed. */
  onRunChanged?: (run: RunRow) => void;
  /** Inside the storing transaction. */
  onStoredInTx?: StoredEventHook;
  /** Events per transaction at most (EVENT_INGEST_LIMITS.maxBatch unless given). */
  maxBatch?: number;
  /**
   * Transactions in flight at once (1 unless given; more needs a connection
   * pool). The next batch starts once the previous one holds its runs' locks,
   * so a run's events are still numbered in the order they arrived.
   */
  concurrency?: number;
  /** Runs written by this process in one statement, with their row versions: the optimistic write skips reading them. */
  runVersions?: RunVersions;
  /**
   * The relay of this process and its `dispatched` records (relay.ts): an
   * Axon's answer waits while its run's record is being written
   * (`dispatching`), and an optimistic batch writes a deferred one (`take`)
   * before the answer, in the same statement, marking the command sent.
   */
  dispatches?: {
    dispatching(runId: string): Promise<void> | undefined;
    take(runId: string): TakenDispatch | undefined;
    /** Not written after all: the relay writes it now. */
    giveBack(taken: TakenDispatch): void;
    written(taken: TakenDispatch): void;
  };
}

interface Pending {
  event: NormalisedEvent;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

export type EventIngest = ReturnType<typeof createEventIngest>;

/**
 * Moves a batch's runs, one row per run in the arrays (same order): one shape
 * whatever the batch's size, so it runs as a prepared statement. Flags are
 * 0/1 integers and JSON is text: postgres.js types an array parameter by its
 * first element, and would declare an array of booleans a boolean.
 */
const dialect = new PgDialect();

/** The SET list of a batch's runs update: `run` the updated table's alias, `v` the input rows'. */
function runsUpdateSet(run: SQL, v: SQL): SQL {
  return sql`next_seq = ${v}.next_seq, output_bytes = ${v}.output_bytes, last_event_at = now(), updated_at = now(),
    state = ${v}.state, reason = ${v}.reason,
    output = case when ${v}.set_output = 1 then ${v}.output::jsonb else ${run}.output end,
    error = case when ${v}.set_error = 1 then ${v}.error::jsonb else ${run}.error end,
    finished_at = case when ${v}.set_finished = 1 then now() else ${run}.finished_at end,
    dispatched_at = case when ${v}.set_dispatched = 1 then now() else ${run}.dispatched_at end`;
}

const updateRuns = dialect.sqlToQuery(sql`
  update ${runs} r set ${runsUpdateSet(sql`r`, sql`v`)}
  from unnest(${sql.placeholder('ids')}::text[], ${sql.placeholder('nextSeqs')}::integer[], ${sql.placeholder('outputBytes')}::bigint[],
    ${sql.placeholder('states')}::text[], ${sql.placeholder('reasons')}::text[], ${sql.placeholder('setOutputs')}::integer[], ${sql.placeholder('outputs')}::text[],
    ${sql.placeholder('setErrors')}::integer[], ${sql.placeholder('errors')}::text[], ${sql.placeholder('setFinished')}::integer[], ${sql.placeholder('setDispatched')}::integer[])
    as v(id, next_seq, output_bytes, state, reason, set_output, output, set_error, error, set_finished, set_dispatched)
  where r.id = v.id`);

/**
 * The rows of a batch's multi-row insert, one array per column (same order):
 * one shape whatever the batch's size, so the insert runs as a prepared
 * statement (a VALUES list has one parameter per cell, a new statement per
 * batch size). Columns in the table's order but `id`, whose default draws
 * from the table's own sequence (a `nextval(pg_get_serial_sequence(…))` in
 * the select looked the sequence up again for every row, ~3 µs each in
 * Postgres); `received_at` as its default would be. The envelopes, the bulk of a batch's bytes, travel as
 * one JSON array (`envelopes`, zipped with the arrays by ROWS FROM): each
 * envelope's text is made once (envelope-json.ts, reused by the fan-out) and
 * sent as it is, where a text[] of JSON texts would be escaped element by
 * element. The columns that are the envelope's own members are read from it:
 * `run_id` (the run was found by it), `tenant` (the run's, checked equal),
 * `source`, `event_id`, `type` and `data`, as stored before.
 */
const insertEventsSelect = sql`select v.envelope ->> 'runId', v.seq, v.envelope ->> 'tenant',
    v.envelope ->> 'source', v.envelope ->> 'id', v.envelope ->> 'type', v.time::timestamptz, v.state, v.reason, v.envelope -> 'data', v.envelope, now()
  from rows from (unnest(${sql.placeholder('seqs')}::integer[]), unnest(${sql.placeholder('times')}::text[]), unnest(${sql.placeholder('eventStates')}::text[]),
    unnest(${sql.placeholder('eventReasons')}::text[]), jsonb_array_elements(${sql.placeholder('envelopes')}::jsonb))
    as v(seq, time, state, reason, envelope)`;

/** run_events' columns as insertEventsSelect gives them: all but `id`. */
const insertEventsColumns = sql.join(
  Object.values(getTableColumns(runEvents))
    .filter((column) => column !== runEvents.id)
    .map((column) => sql.identifier(column.name)),
  sql`, `,
);

/** A prepared insert of a batch's events: its SQL, result fields and statement name. */
interface EventsInsert {
  query: Query;
  fields: SelectedFieldsOrdered;
  name: string;
}

/** A batch's events, each once: one stored meanwhile is skipped, and the ids returned are fewer. */
const insertEvents: EventsInsert = {
  query: dialect.sqlToQuery(sql`insert into ${runEvents} (${insertEventsColumns}) ${insertEventsSelect}
    on conflict (source, event_id) do nothing returning id`),
  fields: [{ path: ['id'], field: runEvents.id }],
  name: 'ingest_insert_events',
};

/**
 * insertEvents with the webhook hook's insert (StoredEventHook.inStatement),
 * which reads the rows inserted as `ev`: a batch's deliveries in the same
 * statement, instead of the hook called (and awaited) once per event. Each
 * row also carries the hook's row count.
 */
function insertEventsHooked(hook: NonNullable<StoredEventHook['inStatement']>): EventsInsert {
  return {
    query: dialect.sqlToQuery(sql`with ev as (insert into ${runEvents} (${insertEventsColumns}) ${insertEventsSelect}
      on conflict (source, event_id) do nothing returning id, run_id, seq, tenant, type), hook as (${hook.insert})
      select ev.id, (select count(*) from hook)::int from ev`),
    fields: [...insertEvents.fields, { path: ['hookRows'], field: sql<number>`` }] as SelectedFieldsOrdered,
    name: 'ingest_insert_events_hooked',
  };
}

/**
 * A select of runs by a key set with their row versions (and more), built
 * once: drizzle's builder would make its SQL again on every batch.
 */
function selectRuns(extra: Record<string, SQL.Aliased | SQL>, tail: SQL) {
  const selection = { ...getTableColumns(runs), version: sql<string>`xmin::text`, ...extra };
  return {
    query: dialect.sqlToQuery(new QueryBuilder().select(selection).from(runs).where(sql`${runs.id} in ${keySet('ids', 'count', 'text')}`).getSQL().append(tail)),
    fields: Object.entries(selection).map(([key, field]) => ({ path: [key], field })) as SelectedFieldsOrdered,
  };
}

/** The batch's runs, locked in id order, with the transaction's time. */
const lockRuns = selectRuns({ txNow: sql<Date>`now()`.mapWith(runs.updatedAt) }, sql` order by ${runs.id} for update`);
/** The runs of an optimistic batch that this process has no version of. */
const readRuns = selectRuns({}, sql``);

type Outcome = IngestResult & { changed?: boolean };
interface TouchFlags {
  setOutput: boolean;
  setError: boolean;
  setFinished: boolean;
  /** The batch writes the run's `dispatched` record (a TakenDispatch). */
  setDispatched: boolean;
  /** The run's row version as read. */
  version: string;
}
type StoreItem = { kind: 'store'; event: NormalisedEvent; values: ReturnType<typeof eventValues>; run: VersionedRun; changed: boolean };
type Planned = { kind: 'result'; result: IngestResult } | { kind: 'reject'; code: string; path: string; message: string; serviceId: string } | StoreItem;
interface BatchPlan {
  items: Planned[];
  touched: Map<string, TouchFlags>;
  byId: Map<string, VersionedRun>;
}

/** An event's identity in a plan's set of stored events: its source and id. */
function eventKey(source: string, id: string): string {
  return `${source}\u0000${id}`;
}

/** Stands for "the writing statement's now()" in a plan made before that statement runs. */
const STATEMENT_TIME = new Date(0);

/** How long an optimistic batch waits at most for the relay's `dispatched` of its runs (see `dispatched`). */
const DISPATCH_WAIT_MS = 1_000;

/** Batches of at most this many events are first stored optimistically (storeOptimistic). */
const OPTIMISTIC_MAX_BATCH = 16;

/**
 * The optimistic write (storeOptimistic) as one statement of data-modifying
 * CTEs: update each run whose row version (xmin) is the one read, insert the
 * events of the runs updated (no ON CONFLICT: an event stored meanwhile fails
 * the statement, which then writes nothing) and, when the webhook hook can say
 * it in SQL, enqueue their deliveries. Returns each stored event with its run.
 * Its runs and outbox rows are found through their keys' indexes (db/key-set.ts).
 */
function optimisticWrite(hook: StoredEventHook['inStatement']) {
  return {
    query: dialect.sqlToQuery(sql`with target as (
        select * from unnest(${sql.placeholder('ids')}::text[], ${sql.placeholder('versions')}::text[], ${sql.placeholder('nextSeqs')}::integer[], ${sql.placeholder('outputBytes')}::bigint[],
          ${sql.placeholder('states')}::text[], ${sql.placeholder('reasons')}::text[], ${sql.placeholder('setOutputs')}::integer[], ${sql.placeholder('outputs')}::text[],
          ${sql.placeholder('setErrors')}::integer[], ${sql.placeholder('errors')}::text[], ${sql.placeholder('setFinished')}::integer[], ${sql.placeholder('setDispatched')}::integer[])
          as t(id, version, next_seq, output_bytes, state, reason, set_output, output, set_error, error, set_finished, set_dispatched)
        ${aboutOneRow('runCount')}),
      u as (update ${runs} r set ${runsUpdateSet(sql`r`, sql`t`)}
        from target t where r.id = t.id and r.xmin::text = t.version
        returning r.id, r.xmin::text as version, r.updated_at, r.last_event_at, r.finished_at, r.dispatched_at),
      sent as (update ${outbox} set sent_at = now(), claimed_until = null
        where id in ${keySet('outboxIds', 'outboxCount', 'bigint')} and run_id in (select id from u)),
      ev as (insert into ${runEvents} (${insertEventsColumns}) ${insertEventsSelect} where v.envelope ->> 'runId' in (select id from u)
        returning id, run_id, seq, tenant, type, received_at)${hook ? sql`, hook as (${hook.insert})` : sql``}
      select ev.id, ev.run_id, ev.seq, ev.received_at, u.version, u.updated_at, u.last_event_at, u.finished_at, u.dispatched_at,
        ${hook ? sql`(select count(*) from hook)::int` : sql`0`}
      from ev join u on u.id = ev.run_id`),
    // What the plan does not know: the events' ids and times, the runs' new versions and times.
    fields: [
      { path: ['id'], field: runEvents.id },
      { path: ['runId'], field: runEvents.runId },
      { path: ['seq'], field: runEvents.seq },
      { path: ['receivedAt'], field: runEvents.receivedAt },
      { path: ['version'], field: sql<string>`` },
      { path: ['updatedAt'], field: runs.updatedAt },
      { path: ['lastEventAt'], field: runs.lastEventAt },
      { path: ['finishedAt'], field: runs.finishedAt },
      { path: ['dispatchedAt'], field: runs.dispatchedAt },
      { path: ['hookRows'], field: sql<number>`` },
    ] as SelectedFieldsOrdered,
  };
}

/** A row of the optimistic write's result: one per stored event. */
interface OptimisticRow {
  id: number;
  runId: string;
  seq: number;
  receivedAt: Date;
  version: string;
  updatedAt: Date;
  lastEventAt: Date;
  finishedAt: Date | null;
  dispatchedAt: Date | null;
  hookRows: number;
}

/** A batch's results (one per event, in order), and those of the `dispatched` records it wrote first. */
interface Stored {
  results: Outcome[];
  leading: Outcome[];
}

export function createEventIngest(options: EventIngestOptions) {
  const { db, logger } = options;
  const hookSql = options.onStoredInTx ? options.onStoredInTx.inStatement : undefined;
  const optimisticStatement = !options.onStoredInTx || hookSql ? optimisticWrite(hookSql) : undefined;
  const hookedInsert = hookSql ? insertEventsHooked(hookSql) : undefined;
  let queue: Pending[] = [];
  let scheduled = false;
  const maxBatch = Math.max(1, options.maxBatch ?? EVENT_INGEST_LIMITS.maxBatch);
  const maxInFlight = Math.max(1, options.concurrency ?? 1);
  let inFlight = 0;
  /** A started batch does not hold its runs' locks yet: the next one waits for that. */
  let locking = false;
  /** Batches are settled (results, deliveries, acknowledgements) in the order they were taken. */
  let settled: Promise<void> = Promise.resolve();

  function reject(code: string, path: string, message: string, context: Record<string, unknown> = {}): IngestResult {
    options.onRejected?.(code);
    logger.warn({ code, path, reason: message, ...context }, 'event rejected');
    return { ok: false, code, path, message };
  }

  function outputSize(event: NormalisedEvent): number {
    const size = jsonByteSize(event.data.chunk ?? event.data.output ?? event.data);
    return size.ok ? size.value : 0;
  }

  async function storeOne(tx: Tx, event: NormalisedEvent): Promise<Outcome> {
    const [run] = await tx.select().from(runs).where(eq(runs.id, event.runId)).for('update');
    if (!run || run.tenant !== event.tenant) return reject('unknown_run', 'runId', `no run ${event.runId.slice(0, 64)} in tenant ${event.tenant}`, { serviceId: event.serviceId });
    if (run.serviceId !== event.serviceId) {
      return reject('service_mismatch', 'source', `run ${run.id} belongs to service ${run.serviceId}, not ${event.serviceId}`, { serviceId: event.serviceId });
    }
    const seq = run.nextSeq;
    let outputBytes = run.outputBytes;
    if (event.shortType === 'output') {
      const size = outputSize(event);
      if (outputBytes > EVENT_INGEST_LIMITS.maxRunOutputBytes) return { ok: true, duplicate: false };
      if (outputBytes + size > EVENT_INGEST_LIMITS.maxRunOutputBytes) {
        // One marker, then nothing more of this run's output is stored.
        const marker = buildEventEnvelope({
          id: options.newId(),
          now: options.now(),
          source: gatewaySourceTrn(run.tenant),
          tenant: run.tenant,
          shortType: 'output',
          data: { status: 'output_truncated', truncated: true, limitBytes: EVENT_INGEST_LIMITS.maxRunOutputBytes },
          traceId: run.traceId,
          resourceTrn: event.resourceTrn,
          runId: run.id,
          correlationId: run.commandId,
        });
        if (!marker.ok) return reject('invalid_event', marker.error.path, marker.error.message);
        const [row] = await tx
          .insert(runEvents)
          .values(eventValues(run, seq, marker.value, run.state, 'output truncated: the run exceeded its stored output limit'))
          .returning();
        const [updated] = await tx
          .update(runs)
          .set({ nextSeq: seq + 1, outputBytes: EVENT_INGEST_LIMITS.maxRunOutputBytes + 1, updatedAt: sql`now()` })
          .where(eq(runs.id, run.id))
          .returning();
        await options.onStoredInTx?.(tx, row!, updated!);
        return { ok: true, duplicate: false, event: row!, run: updated! };
      }
      outputBytes += size;
    }
    const from = run.state as RunState;
    const to = nextRunState(from, event.shortType);
    const moved = to !== from;
    const reason = typeof event.data.reason === 'string' ? event.data.reason.slice(0, 1000) : moved ? `${event.shortType} reported by the Axon` : null;
    const [stored] = await tx
      .insert(runEvents)
      .values(eventValues(run, seq, event.envelope, to, moved ? reason : (reason ?? (isTerminal(from) ? `late event for a ${from} run` : null))))
      .onConflictDoNothing({ target: [runEvents.source, runEvents.eventId] })
      .returning();
    if (!stored) return { ok: true, duplicate: true };
    const terminalPatch =
      moved && isTerminal(to)
        ? to === 'succeeded'
          ? { output: event.data.output ?? null }
          : { error: event.data.error ?? (reason ? { message: reason } : null) }
        : {};
    const [updated] = await tx
      .update(runs)
      .set({
        nextSeq: seq + 1,
        outputBytes,
        lastEventAt: sql`now()`,
        updatedAt: sql`now()`,
        ...(moved ? { state: to, reason, ...terminalPatch } : {}),
        ...(moved && isTerminal(to) ? { finishedAt: sql`now()` } : {}),
      })
      .where(eq(runs.id, run.id))
      .returning();
    await options.onStoredInTx?.(tx, stored, updated!);
    return { ok: true, duplicate: false, event: stored, run: updated!, changed: moved };
  }

  /**
   * What storeOne would do for each event in turn, worked out in memory from
   * the batch's runs as read (`byId`, updated in place) and the events already
   * stored (`existing`, extended in place): sequence numbers, states, output
   * sizes. Null when an output marker is due (the one-at-a-time path writes it).
   * `now`: the time the writes will carry (the transaction's), or STATEMENT_TIME
   * when only the writing statement will know it.
   */
  function planBatch(
    events: NormalisedEvent[],
    byId: Map<string, VersionedRun>,
    existing: Set<string>,
    now: Date,
    dispatches?: ReadonlyMap<NormalisedEvent, TakenDispatch>,
  ): BatchPlan | null {
    const items: Planned[] = [];
    const touched = new Map<string, TouchFlags>();
    for (const event of events) {
      const current = byId.get(event.runId);
      if (!current || current.tenant !== event.tenant) {
        items.push({ kind: 'reject', code: 'unknown_run', path: 'runId', message: `no run ${event.runId.slice(0, 64)} in tenant ${event.tenant}`, serviceId: event.serviceId });
        continue;
      }
      if (current.serviceId !== event.serviceId) {
        items.push({ kind: 'reject', code: 'service_mismatch', path: 'source', message: `run ${current.id} belongs to service ${current.serviceId}, not ${event.serviceId}`, serviceId: event.serviceId });
        continue;
      }
      let outputBytes = current.outputBytes;
      if (event.shortType === 'output') {
        const size = outputSize(event);
        if (outputBytes > EVENT_INGEST_LIMITS.maxRunOutputBytes) {
          items.push({ kind: 'result', result: { ok: true, duplicate: false } });
          continue;
        }
        if (outputBytes + size > EVENT_INGEST_LIMITS.maxRunOutputBytes) return null;
        outputBytes += size;
      }
      const key = eventKey(event.envelope.source, event.envelope.id);
      if (existing.has(key)) {
        items.push({ kind: 'result', result: { ok: true, duplicate: true } });
        continue;
      }
      existing.add(key);
      const seq = current.nextSeq;
      const from = current.state as RunState;
      const to = nextRunState(from, event.shortType);
      const moved = to !== from;
      const dispatch = dispatches?.get(event);
      const reason = dispatch
        ? dispatch.reason
        : typeof event.data.reason === 'string'
          ? event.data.reason.slice(0, 1000)
          : moved
            ? `${event.shortType} reported by the Axon`
            : null;
      const values = eventValues(current, seq, event.envelope, to, moved || dispatch ? reason : (reason ?? (isTerminal(from) ? `late event for a ${from} run` : null)));
      let flags = touched.get(current.id);
      if (!flags) touched.set(current.id, (flags = { setOutput: false, setError: false, setFinished: false, setDispatched: false, version: current.version }));
      // Copied member by member: a spread (`{ ...current }`) takes V8's slow path, per event.
      const updated = withVersion(current, current.version);
      updated.nextSeq = seq + 1;
      updated.outputBytes = outputBytes;
      updated.lastEventAt = now;
      updated.updatedAt = now;
      if (moved) {
        updated.state = to;
        updated.reason = reason;
        if (dispatch) {
          updated.dispatchedAt = now;
          flags.setDispatched = true;
        }
        if (isTerminal(to)) {
          if (to === 'succeeded') {
            updated.output = event.data.output ?? null;
            flags.setOutput = true;
          } else {
            updated.error = event.data.error ?? (reason ? { message: reason } : null);
            flags.setError = true;
          }
          updated.finishedAt = now;
          flags.setFinished = true;
        }
      }
      byId.set(current.id, updated);
      items.push({ kind: 'store', event, values, run: updated, changed: moved });
    }
    return { items, touched, byId };
  }

  /** The parameters of a plan's runs update (updateRuns, and the optimistic statement's). */
  function runsUpdateParams(plan: BatchPlan) {
    const touchedRuns = [...plan.touched].map(([id, flags]) => ({ run: plan.byId.get(id)!, flags }));
    return {
      ids: touchedRuns.map((t) => t.run.id),
      versions: touchedRuns.map((t) => t.flags.version),
      nextSeqs: touchedRuns.map((t) => t.run.nextSeq),
      outputBytes: touchedRuns.map((t) => t.run.outputBytes),
      states: touchedRuns.map((t) => t.run.state),
      reasons: touchedRuns.map((t) => t.run.reason),
      setOutputs: touchedRuns.map((t) => (t.flags.setOutput ? 1 : 0)),
      outputs: touchedRuns.map((t) => jsonParameter(t.run.output)),
      setErrors: touchedRuns.map((t) => (t.flags.setError ? 1 : 0)),
      errors: touchedRuns.map((t) => jsonParameter(t.run.error)),
      setFinished: touchedRuns.map((t) => (t.flags.setFinished ? 1 : 0)),
      setDispatched: touchedRuns.map((t) => (t.flags.setDispatched ? 1 : 0)),
    };
  }

  /** The parameters of a plan's event insert (insertEventsSelect). */
  function eventInsertParams(toStore: StoreItem[]) {
    return {
      seqs: toStore.map((p) => p.values.seq),
      times: toStore.map((p) => p.values.time.toISOString()),
      eventStates: toStore.map((p) => p.values.state),
      eventReasons: toStore.map((p) => p.values.reason),
      envelopes: envelopesJsonArray(toStore.map((p) => p.values.envelope)),
    };
  }

  /**
   * The same as storeOne for each event in turn, in a few statements for the
   * whole batch: the batch's runs are locked at once (in id order), the plan
   * is worked out in memory (planBatch), the events are inserted in one
   * multi-row insert (with their webhook deliveries, when the hook can say
   * them in SQL) and the runs updated in one statement. Events already
   * stored are not looked up first: they are rare (an Axon's redelivery), and
   * the look-up cost every event an index probe and its keys' round trip
   * through two arrays. Should the insert skip one, both writes are rolled back
   * to a savepoint (the runs stay locked), the batch's stored events are read
   * and the batch planned again without them. Takes the one-at-a-time path
   * (storeOne), in the same transaction and under the same locks, when an
   * output marker is due, or when an event is found stored only at the second
   * insert (another run's event with the same source and id, written
   * meanwhile).
   * `onLocked`: the batch's runs are locked (the next batch may start).
   */
  async function storeBatch(tx: Tx, events: NormalisedEvent[], onLocked: () => void): Promise<Outcome[]> {
    const storeEach = async () => {
      const out: Outcome[] = [];
      for (const event of events) out.push(await storeOne(tx, event));
      return out;
    };
    // The hook's reads are needed up front only when its insert cannot be in the batch's statement.
    if (!hookSql) for (const tenant of new Set(events.map((e) => e.tenant))) options.onStoredInTx?.prefetch?.(tx, tenant);
    const ids = [...new Set(events.map((e) => e.runId))];
    const locked = await tx._.session
      .prepareQuery<{ execute: Array<VersionedRun & { txNow: Date }>; all: unknown; values: unknown }>(lockRuns.query, lockRuns.fields, 'ingest_lock_runs', true)
      .execute({ ids, count: ids.length });
    onLocked();
    const now = locked.at(-1)?.txNow ?? new Date();
    // planBatch replaces the runs in the map it is given (with copies): each plan starts from the rows as locked.
    const lockedRuns = () => new Map<string, VersionedRun>(locked.map((row) => [row.id, row]));

    /**
     * The plan's runs update and events insert, after a savepoint. The stored
     * rows in the order of the plan's store items, or null when the insert
     * skipped an event stored meanwhile: both writes are then rolled back.
     * The insert carries the hook's SQL when that covers every event stored
     * (`hooked`); otherwise the hook runs per event after it (the SQL does part
     * of what the hook does for an event it does not cover: running both would
     * enqueue its deliveries twice).
     */
    const write = async (plan: BatchPlan): Promise<{ rows: RunEventRow[]; hooked: boolean } | null> => {
      const toStore = plan.items.filter((p): p is StoreItem => p.kind === 'store');
      if (toStore.length === 0) return { rows: [], hooked: false };
      const insert = hookedInsert && hookSql && toStore.every((p) => hookSql.covers(p.run, p.values)) ? hookedInsert : insertEvents;
      // The runs' update has one shape (arrays) and is prepared; it goes out
      // ahead of the insert, in the same round trip. The savepoint is sent
      // first by hand: tx.execute is lazy (it runs when awaited), and inside
      // Promise.all it would go out after the two writes it is meant to undo.
      const { versions: _versions, ...runParams } = runsUpdateParams(plan);
      const savepoint = tx.execute(sql`savepoint ingest_batch`).then(() => undefined);
      const [, , rows] = await Promise.all([
        savepoint,
        tx._.session.prepareQuery(updateRuns, undefined, 'ingest_update_runs', false).execute(runParams),
        tx._.session
          .prepareQuery<{ execute: Array<{ id: number; hookRows?: number }>; all: unknown; values: unknown }>(insert.query, insert.fields, insert.name, true)
          .execute(eventInsertParams(toStore)),
      ]);
      if (rows.length !== toStore.length) {
        // The hook's deliveries go back with the events.
        await tx.execute(sql`rollback to savepoint ingest_batch`);
        return null;
      }
      // Marks deliveries enqueued; the worker is woken after the commit (afterCommit).
      const hookRows = rows[0]?.hookRows ?? 0;
      if (hookSql && hookRows > 0) hookSql.inserted(hookRows);
      // Their ids were drawn by the column's default in the order of the
      // statement's rows, which is toStore's, so the ids in ascending order are
      // toStore's; received_at is now(), the transaction's time, read with the locks.
      const inserted = rows.map((r) => r.id).sort((a, b) => a - b);
      return { rows: toStore.map((p, i) => storedRow(p.values, inserted[i]!, now)), hooked: insert !== insertEvents };
    };

    /** The batch's events already stored, as planBatch's keys. */
    const storedKeys = async (): Promise<Set<string>> => {
      const found = await tx
        .select({ source: runEvents.source, eventId: runEvents.eventId })
        .from(runEvents)
        .where(sql`(${runEvents.source}, ${runEvents.eventId}) in (select * from unnest(${sql.placeholder('sources')}::text[], ${sql.placeholder('eventIds')}::text[]))`)
        .prepare('ingest_stored_events')
        .execute({ sources: events.map((e) => e.envelope.source), eventIds: events.map((e) => e.envelope.id) });
      return new Set(found.map((r) => eventKey(r.source, r.eventId)));
    };

    let plan = planBatch(events, lockedRuns(), new Set(), now);
    let stored = plan && (await write(plan));
    if (plan && !stored) {
      // An event was stored meanwhile: planned again without the stored ones.
      plan = planBatch(events, lockedRuns(), await storedKeys(), now);
      stored = plan && (await write(plan));
    }
    if (!plan || !stored) return storeEach();

    const results: Outcome[] = [];
    let k = 0;
    for (const item of plan.items) {
      if (item.kind === 'result') results.push(item.result);
      else if (item.kind === 'reject') results.push(reject(item.code, item.path, item.message, { serviceId: item.serviceId }));
      else {
        const row = stored.rows[k++]!;
        const run = withoutVersion(item.run);
        // A hooked write enqueued every stored event's deliveries in its insert.
        if (!stored.hooked) await options.onStoredInTx?.(tx, row, run);
        results.push({ ok: true, duplicate: false, event: row, run, changed: item.changed });
      }
    }
    return results;
  }

  /**
   * The batch without a transaction, when it is small: its runs are read
   * (unlocked, with their row versions), the plan is worked out in memory, and
   * one statement updates each run whose version is unchanged, inserts the
   * events of those runs and enqueues their webhook deliveries: one round trip
   * to read and one to write, no BEGIN, no COMMIT, no lock held between them.
   * The events of a run that changed meanwhile are stored by the transaction
   * path; so is the whole batch when an event was stored meanwhile (the insert
   * fails on the unique key, the statement writes nothing), when an output
   * marker is due, or when the webhook hook cannot store an event's deliveries
   * in SQL. Null: nothing of the batch was stored here.
   */
  async function storeOptimistic(
    statement: NonNullable<typeof optimisticStatement>,
    events: NormalisedEvent[],
    onLocked: () => void,
    taken: readonly TakenDispatch[],
  ): Promise<Stored | null> {
    // The taken `dispatched` records go first, each before its run's first event here.
    const dispatches = new Map<NormalisedEvent, TakenDispatch>();
    for (const record of taken) dispatches.set(normalisedEvent(record.envelope, events.find((e) => e.runId === record.runId)!.serviceId, 'dispatched'), record);
    const leading = [...dispatches.keys()];
    const all = leading.length > 0 ? [...leading, ...events] : events;
    const ids = [...new Set(events.map((e) => e.runId))];
    const byId = new Map<string, VersionedRun>();
    const unknown: string[] = [];
    for (const id of ids) {
      const known = options.runVersions?.get(id);
      if (known) byId.set(id, known);
      else unknown.push(id);
    }
    if (unknown.length > 0) {
      const read = await db._.session
        .prepareQuery<{ execute: VersionedRun[]; all: unknown; values: unknown }>(readRuns.query, readRuns.fields, 'ingest_read_runs', true)
        .execute({ ids: unknown, count: unknown.length });
      for (const row of read) byId.set(row.id, row);
    }
    const plan = planBatch(all, byId, new Set(), STATEMENT_TIME, dispatches);
    const toStore = plan ? plan.items.filter((p): p is StoreItem => p.kind === 'store') : [];
    if (!plan || (hookSql && toStore.some((p) => !hookSql.covers(p.run, p.values)))) {
      for (const record of taken) giveBack(record);
      return null;
    }
    let written: OptimisticRow[] = [];
    if (toStore.length > 0) {
      try {
        written = await db._.session
          .prepareQuery<{ execute: OptimisticRow[]; all: unknown; values: unknown }>(statement.query, statement.fields, 'ingest_store_optimistic', true)
          .execute({
            ...runsUpdateParams(plan),
            runCount: plan.touched.size,
            ...eventInsertParams(toStore),
            outboxIds: taken.map((t) => t.outboxId),
            outboxCount: taken.length,
          });
      } catch (error) {
        for (const record of taken) giveBack(record);
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    }
    const hookRows = written.reduce((n, r) => n + r.hookRows, 0);
    if (hookSql && hookRows > 0) hookSql.inserted(hookRows);
    // Keyed by run and sequence number, which the plan gave each event.
    const byRunSeq = new Map(written.map((w) => [`${w.runId}\u0000${w.seq}`, w]));
    const results: Array<Outcome | undefined> = [];
    const stale: number[] = [];
    plan.items.forEach((item, i) => {
      const done = item.kind === 'store' ? byRunSeq.get(`${item.values.runId}\u0000${item.values.seq}`) : undefined;
      const record = i < leading.length ? dispatches.get(all[i]!) : undefined;
      if (record) {
        // A taken `dispatched` record: written (the command is marked sent), or back to the relay.
        if (!done) {
          giveBack(record);
          results.push({ ok: true, duplicate: false });
          return;
        }
        options.dispatches?.written(record);
      }
      if (item.kind === 'result') results.push(item.result);
      else if (item.kind === 'reject') results.push(reject(item.code, item.path, item.message, { serviceId: item.serviceId }));
      else {
        if (!done) {
          // Its run changed after it was read: the transaction path stores it.
          results.push(undefined);
          stale.push(i);
          return;
        }
        // The run as it stood after this event: the plan's (the version written
        // over was the one planned from), with the statement's times.
        const run = withoutVersion(item.run);
        run.lastEventAt = done.lastEventAt;
        run.updatedAt = done.updatedAt;
        if (run.finishedAt === STATEMENT_TIME) run.finishedAt = done.finishedAt;
        if (run.dispatchedAt === STATEMENT_TIME) run.dispatchedAt = done.dispatchedAt;
        if (plan.byId.get(run.id) === item.run) options.runVersions?.remember(withVersion(run, done.version));
        results.push({ ok: true, duplicate: false, event: storedRow(item.values, done.id, done.receivedAt), run, changed: item.changed });
      }
    });
    if (stale.length > 0) {
      const again = stale.map((i) => all[i]!);
      // Their runs' `dispatched` records, given back above, are written by the relay first.
      await dispatched(again);
      const retried = await storeInTransaction(again, onLocked);
      stale.forEach((i, k) => (results[i] = retried[k]));
    }
    return { results: results.slice(leading.length) as Outcome[], leading: results.slice(0, leading.length) as Outcome[] };
  }

  function giveBack(record: TakenDispatch): void {
    options.dispatches?.giveBack(record);
  }

  async function storeInTransaction(events: NormalisedEvent[], onLocked: () => void): Promise<Outcome[]> {
    // Written here, a run's version is not known: its next event reads it.
    if (options.runVersions) for (const event of events) options.runVersions.forget(event.runId);
    try {
      return await db.transaction((tx) => storeBatch(tx, events, onLocked));
    } finally {
      onLocked();
    }
  }

  /**
   * Waits (at most DISPATCH_WAIT_MS) while the relay of this process still
   * records the `dispatched` event of a run the batch writes to: an Axon that
   * answers before that would otherwise find the run changed under its write.
   */
  async function dispatched(events: NormalisedEvent[]): Promise<void> {
    const relay = options.dispatches;
    if (!relay) return;
    let waits: Array<Promise<void>> | undefined;
    for (const event of events) {
      const wait = relay.dispatching(event.runId);
      if (wait) (waits ??= []).push(wait);
    }
    if (!waits) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((resolve) => (timer = setTimeout(resolve, DISPATCH_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /**
   * A small batch optimistically (one statement, no transaction), the rest in
   * a transaction. The next batch starts once this one's runs are locked, or
   * once its optimistic statement is done, so events of one run are numbered in
   * the order they arrived.
   */
  async function store(events: NormalisedEvent[], onLocked: () => void): Promise<Stored> {
    if (events.length <= OPTIMISTIC_MAX_BATCH && optimisticStatement) {
      const taken: TakenDispatch[] = [];
      try {
        const records = options.dispatches;
        if (records) {
          for (const runId of new Set(events.map((e) => e.runId))) {
            const record = records.take(runId);
            if (record) taken.push(record);
          }
        }
        await dispatched(events);
        const done = await storeOptimistic(optimisticStatement, events, onLocked, taken);
        if (done) {
          onLocked();
          return done;
        }
      } catch (error) {
        // storeOptimistic gave back what it took before failing; a failure before it did not.
        for (const record of taken) giveBack(record);
        onLocked();
        throw error;
      }
    }
    // A run's `dispatched` record is written before the Axon's answer, also here.
    await dispatched(events);
    return { results: await storeInTransaction(events, onLocked), leading: [] };
  }

  /** A stored event's listeners; a failing one must not keep the event unacknowledged (nor the batch's later ones). */
  function announce(result: Outcome): void {
    if (!result.ok || !result.run) return;
    try {
      if (result.event) options.onEvent?.(result.event, result.run);
      if (result.changed) options.onRunChanged?.(result.run);
      if (result.changed && result.run.state === 'rejected') logger.warn({ runId: result.run.id, serviceId: result.run.serviceId, actionId: result.run.actionId, reason: result.run.reason }, 'run rejected by the Axon');
    } catch (error) {
      logger.error({ runId: result.run.id, err: error instanceof Error ? error.message : String(error) }, 'event ingest: an after-commit listener failed');
    }
  }

  function settle(batch: Pending[], { results, leading }: Stored): void {
    // The `dispatched` records written first, then the batch's own events.
    for (const result of leading) announce(result);
    for (const result of results) announce(result);
    // The senders hear back in the next turn (over MQTT, their acknowledgement):
    // the live updates the listeners queued in this turn's microtasks reach
    // their subscribers' sockets first. One turn per batch, in batch order.
    setImmediate(() => batch.forEach((item, i) => item.resolve(plainResult(results[i]!))));
  }

  /**
   * Starts batches while there are events, fewer than `maxInFlight`
   * transactions run and the last one started holds its runs' locks. A later
   * batch sharing a run with an earlier one waits on that run's lock, so it
   * reads the run (sequence number, state) as the earlier one committed it.
   */
  function pump(): void {
    while (queue.length > 0 && inFlight < maxInFlight && !locking) {
      const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
      queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
      inFlight += 1;
      locking = true;
      let holding = false;
      const onLocked = () => {
        if (holding) return;
        holding = true;
        locking = false;
        pump();
      };
      const outcome = store(
        batch.map((item) => item.event),
        onLocked,
      ).then(
        (stored) => ({ ok: true as const, stored }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      void outcome.then(() => {
        inFlight -= 1;
        pump();
      });
      settled = settled
        .then(() => outcome)
        .then((done) => {
          if (done.ok) settle(batch, done.stored);
          // Nothing of the batch is stored: every sender keeps its message unacknowledged.
          else for (const item of batch) item.reject(done.error);
        })
        .catch((error: unknown) => logger.error({ err: error instanceof Error ? error.message : String(error) }, 'event ingest: settling a batch failed'));
    }
  }

  function enqueue(event: NormalisedEvent): Promise<IngestResult> {
    // The envelope's text is made now, as the event arrives (while a transaction
    // waits on the database), rather than while the batch holds its runs' locks.
    if (event.envelopeText !== undefined) rememberEnvelopeJson(event.envelope, event.envelopeText);
    else envelopeJson(event.envelope);
    return new Promise<IngestResult>((resolve, rejectPromise) => {
      queue.push({ event, resolve, reject: rejectPromise });
      // Events that arrive in the same turn (one socket read holds many) share a transaction.
      if (!scheduled && !locking && inFlight < maxInFlight) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          pump();
        });
      }
    });
  }

  /** An event from MQTT `{prefix}/event/{serviceId}`. Rejects only when it could not be stored. */
  async function ingestBytes(topicServiceId: string, payload: Uint8Array): Promise<IngestResult> {
    const parsed = parseEventBytes(payload, { topicServiceId });
    if (!parsed.ok) return reject(parsed.error.code, parsed.error.path, parsed.error.message, { serviceId: topicServiceId.slice(0, 128) });
    return enqueue(parsed.value);
  }

  /** An event from `POST /api/v1/events`; `serviceId`: the authenticated Axon, whose events alone it may send. */
  async function ingestJson(body: unknown, from: { serviceId?: string } = {}): Promise<IngestResult> {
    const parsed = parseEventEnvelope(body);
    if (!parsed.ok) return reject(parsed.error.code, parsed.error.path, parsed.error.message);
    if (from.serviceId !== undefined && parsed.value.serviceId !== from.serviceId) {
      return reject('service_mismatch', 'source', `this credential belongs to service ${from.serviceId}; the event's source is ${parsed.value.serviceId.slice(0, 128)}`, { serviceId: from.serviceId });
    }
    return enqueue(parsed.value);
  }

  /** Appends a gateway event (sweeper, cancel) through the same path. */
  async function ingestGatewayEvent(envelope: EventEnvelope, serviceId: string, shortType: NormalisedEvent['shortType'] | string): Promise<IngestResult> {
    return enqueue(normalisedEvent(envelope, serviceId, shortType as EventShortType));
  }

  return { ingestBytes, ingestJson, ingestGatewayEvent };
}

/** A batch's outcome as its sender sees it: without `changed`, and built without a rest pattern (V8's slow path, per event). */
function plainResult(result: Outcome): IngestResult {
  if (!result.ok) return result;
  const plain: Extract<IngestResult, { ok: true }> = { ok: true, duplicate: result.duplicate };
  if (result.event) plain.event = result.event;
  if (result.run) plain.run = result.run;
  return plain;
}

/** An event as stored: its planned values with the id and time the database gave it, member by member. */
function storedRow(values: ReturnType<typeof eventValues>, id: number, receivedAt: Date): RunEventRow {
  return {
    id,
    runId: values.runId,
    seq: values.seq,
    tenant: values.tenant,
    source: values.source,
    eventId: values.eventId,
    type: values.type,
    time: values.time,
    state: values.state,
    reason: values.reason,
    data: values.data,
    envelope: values.envelope,
    receivedAt,
  };
}

function eventValues(run: RunRow, seq: number, envelope: EventEnvelope, state: string, reason: string | null) {
  return {
    runId: run.id,
    seq,
    tenant: run.tenant,
    source: envelope.source,
    eventId: envelope.id,
    type: envelope.type,
    time: new Date(envelope.time),
    state,
    reason,
    data: envelope.data,
    envelope: envelope as unknown as Record<string, unknown>,
  };
}
