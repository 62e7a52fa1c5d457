// Runs: triggering an action (a run, its first event and an outbox row in one
// transaction), idempotency, reading runs back, and waiting for an outcome.
import { and, desc, eq, getTableColumns, lt, type Query, sql } from 'drizzle-orm';
import type { PgDialect, SelectedFieldsOrdered } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { auditLog, idempotencyKeys, outbox, runEvents, runs } from '../db/schema.js';
import { recordAudit } from '../audit/audit.js';
import { fail, ok, type Result } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import {
  actionTrn,
  buildCommandEnvelope,
  buildGatewayEvent,
  isTerminal,
  jsonParameter,
  type RunState,
} from '../protocol/index.js';
import type { Catalogue } from '../services/catalogue.js';
import type { RunEventRow, RunRow, StoredEventHook, Tx } from './events.js';
import type { OutboxCommand } from './relay.js';
import { type RunVersions, withVersion } from './versions.js';
import { requestHash, type TriggerRequest } from './trigger-input.js';

export type { RunRow };

export interface RunServiceOptions {
  db: Database;
  logger: Logger;
  catalogue: Catalogue;
  topicPrefix: string;
  newId: () => string;
  newTraceId: () => string;
  now: () => number;
  heartbeatTimeoutS: number;
  statusTtlS: number;
  /** A new outbox row is committed: the relay should publish (claim it). */
  onOutbox: () => void;
  /**
   * The relay that takes a trigger's command straight after its commit: the
   * row is written leased to it and handed over, with no claim on the way.
   * `lease()` is null while that relay cannot publish (paused, broker down):
   * the row is then written unleased for any relay's claim.
   */
  outboxRelay?: {
    lease(): { owner: string; seconds: number } | null;
    handOff(command: OutboxCommand): void;
  };
  onRunChanged?: (run: RunRow) => void;
  /** Inside the trigger's transaction, for its first event. */
  onStoredInTx?: StoredEventHook;
  /** Where runs written in one statement are remembered with their row version. */
  runVersions?: RunVersions;
}

export interface TriggerMeta {
  origin: 'graphql' | 'rest' | 'envelope';
  issuedBy: string;
  /** Who triggered (an API key id, or `open`): recorded in the audit log in the run's transaction. */
  actor: string;
  actorTrn?: string | undefined;
  /** Envelope runs: the caller's command id and target, echoed in their events. */
  caller?: { commandId: string; target: string; traceId?: string } | undefined;
  /** Registry definition runs: what the Axon's runner executes. */
  definition?: { id: number; kind: string; spec: Record<string, unknown>; version: number } | undefined;
}

export interface TriggerOutcome {
  run: RunRow;
  replayed: boolean;
}

export const IDEMPOTENCY_TTL_HOURS = 24;

export type RunService = ReturnType<typeof createRunService>;

/** What the trigger's statement reads back of its run: the columns the insert leaves to the database, and `input` as stored. */
type MadeByDatabase = Pick<
  RunRow,
  'reason' | 'cancelRequested' | 'cancelRequestedAt' | 'input' | 'output' | 'error' | 'lastEventAt' | 'outputBytes' | 'createdAt' | 'updatedAt' | 'dispatchedAt' | 'finishedAt'
>;

/**
 * The run as the trigger's statement wrote it: what was sent, with what the
 * database made. Member by member, in the table's column order: the object
 * then has the same shape (hidden class) as a run read from the database.
 */
function triggeredRun(
  sent: Omit<RunRow, keyof MadeByDatabase | 'deadline'>,
  deadline: Date | null,
  made: MadeByDatabase,
): RunRow {
  return {
    id: sent.id,
    tenant: sent.tenant,
    serviceId: sent.serviceId,
    actionId: sent.actionId,
    definitionId: sent.definitionId,
    definitionVersion: sent.definitionVersion,
    state: sent.state,
    reason: made.reason,
    cancelRequested: made.cancelRequested,
    cancelRequestedAt: made.cancelRequestedAt,
    input: made.input,
    output: made.output,
    error: made.error,
    commandId: sent.commandId,
    traceId: sent.traceId,
    idempotencyKey: sent.idempotencyKey,
    origin: sent.origin,
    callerCommandId: sent.callerCommandId,
    callerTarget: sent.callerTarget,
    heartbeatTimeoutS: sent.heartbeatTimeoutS,
    statusTtlS: sent.statusTtlS,
    deadline,
    lastEventAt: made.lastEventAt,
    nextSeq: sent.nextSeq,
    outputBytes: made.outputBytes,
    createdAt: made.createdAt,
    updatedAt: made.updatedAt,
    dispatchedAt: made.dispatchedAt,
    finishedAt: made.finishedAt,
  };
}

export function createRunService(options: RunServiceOptions) {
  const { db, catalogue } = options;
  const waiters = new Map<string, Set<(run: RunRow) => void>>();
  const byId = db
    .select()
    .from(runs)
    .where(and(eq(runs.tenant, sql.placeholder('tenant')), eq(runs.id, sql.placeholder('id'))))
    .prepare('runs_get');

  // The trigger's three inserts, built once with placeholders and prepared on
  // each transaction's session: drizzle would otherwise build their SQL on
  // every call (~0.1 ms for the three). The placeholders are raw, so `trigger`
  // encodes what drizzle's columns would (JSON text, ISO dates) and leaves nulls
  // SQL NULL: the statements and parameters are the ones the builder produces.
  const p = (name: string) => sql`${sql.placeholder(name)}`;
  const allColumns = (table: typeof runs | typeof runEvents) =>
    Object.entries(getTableColumns(table)).map(([key, field]) => ({ path: [key], field })) as SelectedFieldsOrdered;
  const runInsertValues = {
      id: p('id'),
      tenant: p('tenant'),
      serviceId: p('serviceId'),
      actionId: p('actionId'),
      definitionId: p('definitionId'),
      definitionVersion: p('definitionVersion'),
      state: p('state'),
      input: p('input'),
      commandId: p('commandId'),
      traceId: p('traceId'),
      idempotencyKey: p('idempotencyKey'),
      origin: p('origin'),
      callerCommandId: p('callerCommandId'),
      callerTarget: p('callerTarget'),
      heartbeatTimeoutS: p('heartbeatTimeoutS'),
      statusTtlS: p('statusTtlS'),
      deadline: p('deadline'),
      nextSeq: p('nextSeq'),
    };
  // The run's row and its version (runs/versions.ts): nothing else writes the
  // run in the trigger's statement or transaction, so it stands after the commit.
  const runInsert = db
    .insert(runs)
    .values(runInsertValues)
    .returning({ ...getTableColumns(runs), version: sql<string>`xmin::text`.as('version') });
  const insertRun = { query: runInsert.toSQL(), fields: [...allColumns(runs), { path: ['version'], field: sql<string>`` }] as SelectedFieldsOrdered };
  const eventInsert = db
    .insert(runEvents)
    .values({
      runId: p('runId'),
      seq: p('seq'),
      tenant: p('tenant'),
      source: p('source'),
      eventId: p('eventId'),
      type: p('type'),
      time: p('time'),
      state: p('state'),
      reason: p('reason'),
      data: p('data'),
      envelope: p('envelope'),
    })
    .returning();
  const insertEvent = { query: eventInsert.toSQL(), fields: allColumns(runEvents) };
  const outboxInsert = db
    .insert(outbox)
    .values({
      kind: p('kind'),
      runId: p('runId'),
      topic: p('topic'),
      payload: p('payload'),
      claimedBy: p('claimedBy'),
      claimedUntil: sql`now() + make_interval(secs => ${sql.placeholder('leaseSeconds')}::int)`,
      attempts: p('attempts'),
    })
    .returning({ id: outbox.id });
  const insertOutbox = { query: outboxInsert.toSQL(), fields: [{ path: ['id'], field: outbox.id }] as SelectedFieldsOrdered };
  const auditInsert = db
    .insert(auditLog)
    .values({ tenant: p('tenant'), actor: p('actor'), action: p('action'), target: p('target'), detail: p('detail') });
  const insertAudit = auditInsert.toSQL();

  // Without an idempotency key, the same four inserts (and the webhook hook's,
  // when it can say it in SQL) as one statement of data-modifying CTEs: atomic
  // on its own (an implicit transaction; foreign keys are checked at its end),
  // so no BEGIN and COMMIT round trips, one socket write and one round trip.
  // It returns only what the database makes of the run: the columns left to
  // their defaults, `input` as jsonb stores it, and the row version. The rest
  // of the run is what was sent (`triggeredRun`), and the first event's row is
  // not read back at all: nobody uses it after the commit. Returning both rows
  // whole cost Postgres the text of ~40 columns (three of them jsonb) and the
  // gateway their parsing, on the round trip's path.
  const firstEventHook = options.onStoredInTx?.inStatement;
  const runSets = new Set(Object.keys(runInsertValues));
  const madeByDatabase = Object.entries(getTableColumns(runs)).filter(([key]) => key === 'input' || !runSets.has(key));
  const leanRunInsert = db
    .insert(runs)
    .values(runInsertValues)
    .returning({ ...Object.fromEntries(madeByDatabase), version: sql<string>`xmin::text`.as('version') });
  const oneStatement = {
    query: (db as unknown as { dialect: PgDialect }).dialect.sqlToQuery(sql`with run as (${leanRunInsert.getSQL()}), ev as (${eventInsert.getSQL()}), ob as (${outboxInsert.getSQL()}), au as (${auditInsert.getSQL()})${
      firstEventHook ? sql`, hook as (${firstEventHook.insert})` : sql``
    } select ${sql.join(
      madeByDatabase.map(([, field]) => sql`run.${sql.identifier(field.name)}`),
      sql`, `,
    )}, ${firstEventHook ? sql`(select count(*) from hook)::int` : sql`0`}, ob.id, run.version from run, ev, ob`),
    fields: [
      ...madeByDatabase.map(([key, field]) => ({ path: ['made', key], field })),
      { path: ['hookRows'], field: sql<number>`` },
      { path: ['outboxId'], field: outbox.id },
      { path: ['version'], field: sql<string>`` },
    ] as SelectedFieldsOrdered,
  };
  function execute<T>(tx: Tx, statement: { query: Query; fields?: SelectedFieldsOrdered }, name: string, values: Record<string, unknown>): Promise<T> {
    return tx._.session.prepareQuery<{ execute: T; all: unknown; values: unknown }>(statement.query, statement.fields, name, true).execute(values);
  }

  async function checkTarget(tenant: string, req: TriggerRequest, meta: TriggerMeta): Promise<Result<null>> {
    const service = await catalogue.forTrigger(tenant, req.serviceId);
    if (!service) return fail('unknown_service', 'serviceId', `no service ${req.serviceId} has announced itself`);
    if (meta.definition) {
      if (service.status === 'offline') return fail('service_offline', 'serviceId', `service ${req.serviceId} is offline`);
      if (!service.runners.includes(meta.definition.kind)) {
        return fail('runner_not_supported', 'serviceId', `service ${req.serviceId} does not run ${meta.definition.kind} definitions (its runners: ${service.runners.join(', ') || 'none'})`);
      }
      return ok(null);
    }
    if (!service.actions.some((a) => a.id === req.actionId)) {
      return fail('unknown_action', 'actionId', `service ${req.serviceId} declares no action ${req.actionId}`);
    }
    if (service.status === 'offline') return fail('service_offline', 'serviceId', `service ${req.serviceId} is offline`);
    return ok(null);
  }

  async function trigger(tenant: string, req: TriggerRequest, meta: TriggerMeta): Promise<Result<TriggerOutcome>> {
    const target = await checkTarget(tenant, req, meta);
    if (!target.ok) return target;
    const runId = options.newId();
    const commandId = options.newId();
    const traceId = meta.caller?.traceId ?? options.newTraceId();
    const now = options.now();
    // Events name the command's target, also for definition runs (the envelope carries the definition).
    const resource = actionTrn(tenant, req.serviceId, req.actionId);

    const envelope = buildCommandEnvelope({
      id: commandId,
      now,
      tenant,
      serviceId: req.serviceId,
      actionId: req.actionId,
      runId,
      input: req.input,
      traceId,
      heartbeatTimeout: options.heartbeatTimeoutS,
      issuedBy: meta.issuedBy,
      ...(meta.definition
        ? { definition: { id: String(meta.definition.id), kind: meta.definition.kind, spec: meta.definition.spec, version: meta.definition.version } }
        : {}),
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      ...(req.deadline ? { deadline: req.deadline.getTime() } : {}),
      ...(meta.actorTrn ? { actorTrn: meta.actorTrn } : {}),
    });
    if (!envelope.ok) return fail('invalid_input', envelope.error.path || null, envelope.error.message);
    const requested = buildGatewayEvent({
      id: options.newId(),
      now,
      tenant,
      shortType: 'requested',
      data: { status: 'requested' },
      traceId,
      resourceTrn: resource,
      runId,
      correlationId: commandId,
    });
    if (!requested.ok) return fail('invalid_input', null, requested.error.message);

    const runValues = {
      id: runId,
      tenant,
      serviceId: req.serviceId,
      actionId: req.actionId,
      definitionId: meta.definition?.id ?? null,
      definitionVersion: meta.definition?.version ?? null,
      state: 'requested',
      input: jsonParameter(req.input),
      commandId,
      traceId,
      idempotencyKey: req.idempotencyKey ?? null,
      origin: meta.origin,
      callerCommandId: meta.caller?.commandId ?? null,
      callerTarget: meta.caller?.target ?? null,
      heartbeatTimeoutS: options.heartbeatTimeoutS,
      statusTtlS: options.statusTtlS,
      deadline: req.deadline ? req.deadline.toISOString() : null,
      nextSeq: 2,
    };
    const eventValues = {
      runId,
      seq: 1,
      tenant,
      source: requested.value.source,
      eventId: requested.value.id,
      type: requested.value.type,
      time: new Date(requested.value.time).toISOString(),
      state: 'requested',
      reason: `triggered through ${meta.origin}`,
      data: jsonParameter(requested.value.data),
      envelope: jsonParameter(requested.value),
    };
    const lease = options.outboxRelay?.lease() ?? null;
    const topic = `${options.topicPrefix}/command/${req.serviceId}`;
    const payloadText = jsonParameter(envelope.value)!;
    const outboxValues = {
      kind: 'command',
      runId,
      topic,
      payload: payloadText,
      claimedBy: lease?.owner ?? null,
      leaseSeconds: lease ? lease.seconds : null,
      attempts: lease ? 1 : 0,
    };
    // After the commit: the leased row goes straight to its relay, else any relay claims it.
    const committed = async (outboxId: number): Promise<void> => {
      if (!lease || !options.outboxRelay) return options.onOutbox();
      options.outboxRelay.handOff({ id: outboxId, runId, topic, payload: envelope.value, text: payloadText });
      // The relay publishes within this turn's microtasks and ticks; the answer
      // and the run's first update wait for the next turn, so the command's
      // bytes leave first and the Axon starts while they are written.
      await new Promise<void>((resolve) => setImmediate(resolve));
    };
    const auditValues = {
      tenant,
      actor: meta.actor,
      action: 'run.trigger',
      target: runId,
      detail: jsonParameter({ serviceId: req.serviceId, actionId: req.actionId, origin: meta.origin, ...(meta.definition ? { definitionId: meta.definition.id } : {}) }),
    };
    if (!req.idempotencyKey && (!options.onStoredInTx || firstEventHook)) {
      const [row] = await db._.session
        .prepareQuery<{ execute: Array<{ made: MadeByDatabase; hookRows: number; outboxId: number; version: string }>; all: unknown; values: unknown }>(
          oneStatement.query,
          oneStatement.fields,
          'runs_trigger_one',
          true,
        )
        .execute({ ...runValues, ...eventValues, ...outboxValues, ...auditValues });
      firstEventHook?.inserted(row!.hookRows);
      const run = triggeredRun(runValues, req.deadline ?? null, row!.made);
      options.runVersions?.remember(withVersion(run, row!.version));
      await committed(row!.outboxId);
      options.onRunChanged?.(run);
      return ok({ run, replayed: false });
    }
    let outboxId: number | undefined;
    let insertedVersion: string | undefined;
    const outcome = await db.transaction(async (tx): Promise<Result<TriggerOutcome>> => {
      if (req.idempotencyKey) {
        const hash = requestHash({ serviceId: req.serviceId, actionId: req.actionId, input: req.input, definitionId: meta.definition?.id ?? null });
        const claimed = await tx
          .insert(idempotencyKeys)
          .values({ tenant, key: req.idempotencyKey, requestHash: hash, runId })
          .onConflictDoNothing()
          .returning({ runId: idempotencyKeys.runId });
        if (claimed.length === 0) {
          const [existing] = await tx
            .select()
            .from(idempotencyKeys)
            .where(and(eq(idempotencyKeys.tenant, tenant), eq(idempotencyKeys.key, req.idempotencyKey)))
            .for('update');
          const expired = existing && existing.createdAt.getTime() < Date.now() - IDEMPOTENCY_TTL_HOURS * 3600_000;
          if (existing && !expired) {
            if (existing.requestHash !== hash) {
              return fail('idempotency_conflict', 'idempotencyKey', 'this idempotency key was used for a different request in the last 24 hours');
            }
            const [run] = await tx.select().from(runs).where(eq(runs.id, existing.runId));
            if (run) return ok({ run, replayed: true });
          }
          await tx
            .update(idempotencyKeys)
            .set({ requestHash: hash, runId, createdAt: sql`now()` })
            .where(and(eq(idempotencyKeys.tenant, tenant), eq(idempotencyKeys.key, req.idempotencyKey)));
        }
      }
      options.onStoredInTx?.prefetch?.(tx, tenant);
      // The run, its first event and the command are sent together (pipelined
      // on the transaction's connection) as named prepared statements: one
      // round trip, where unprepared statements with parameters cost two each
      // (postgres.js describes them first) and wait for one another.
      const [[inserted], [firstEvent], [queued]] = await Promise.all([
        execute<Array<RunRow & { version: string }>>(tx, insertRun, 'runs_trigger_run', runValues),
        execute<RunEventRow[]>(tx, insertEvent, 'runs_trigger_event', eventValues),
        execute<Array<{ id: number }>>(tx, insertOutbox, 'runs_trigger_outbox', outboxValues),
        execute<unknown>(tx, { query: insertAudit }, 'runs_trigger_audit', auditValues),
      ]);
      const { version, ...row } = inserted!;
      await options.onStoredInTx?.(tx, firstEvent!, row);
      outboxId = queued!.id;
      insertedVersion = version;
      return ok({ run: row, replayed: false });
    });
    if (outcome.ok && !outcome.value.replayed) {
      options.runVersions?.remember(withVersion(outcome.value.run, insertedVersion!));
      await committed(outboxId!);
      options.onRunChanged?.(outcome.value.run);
    }
    return outcome;
  }

  /**
   * Asks the Axon to cancel a run: marks it and publishes a synapse.run.cancel
   * command through the outbox. The run ends `cancelled` when the Axon confirms,
   * or by the sweeper (reason unconfirmed) after its heartbeat timeout.
   * Asking twice sends one command.
   */
  async function cancel(tenant: string, runId: string, meta: { issuedBy: string; actor: string }): Promise<Result<RunRow>> {
    const outcome = await db.transaction(async (tx): Promise<Result<RunRow> & { sent?: boolean }> => {
      const [run] = await tx
        .select()
        .from(runs)
        .where(and(eq(runs.tenant, tenant), eq(runs.id, runId)))
        .for('update');
      if (!run) return fail('not_found', 'id', 'no such run');
      if (isTerminal(run.state as RunState)) return fail('run_finished', 'id', `the run already ended (${run.state})`);
      if (run.cancelRequested) return ok(run);
      const envelope = buildCommandEnvelope({
        id: options.newId(),
        now: options.now(),
        tenant,
        serviceId: run.serviceId,
        actionId: run.actionId,
        runId: run.id,
        input: null,
        traceId: run.traceId,
        heartbeatTimeout: run.heartbeatTimeoutS,
        issuedBy: meta.issuedBy,
        command: 'synapse.run.cancel',
      });
      if (!envelope.ok) return fail('invalid_input', null, envelope.error.message);
      const [updated] = await tx
        .update(runs)
        .set({ cancelRequested: true, cancelRequestedAt: sql`now()`, updatedAt: sql`now()` })
        .where(eq(runs.id, run.id))
        .returning();
      await tx.insert(outbox).values({
        kind: 'command',
        runId: run.id,
        topic: `${options.topicPrefix}/command/${run.serviceId}`,
        payload: envelope.value as unknown as Record<string, unknown>,
      });
      await recordAudit(tx, { tenant, actor: meta.actor, action: 'run.cancel', target: run.id, detail: { serviceId: run.serviceId } });
      return { ok: true, value: updated!, sent: true };
    });
    if (outcome.ok && outcome.sent) {
      options.runVersions?.forget(outcome.value.id);
      options.onOutbox();
      options.onRunChanged?.(outcome.value);
    }
    return outcome.ok ? ok(outcome.value) : outcome;
  }

  async function get(tenant: string, id: string): Promise<RunRow | null> {
    const [row] = await byId.execute({ tenant, id });
    return row ?? null;
  }

  async function list(
    tenant: string,
    opts: { first: number; afterId?: string | null; serviceId?: string | null; status?: RunState | null },
  ): Promise<{ items: RunRow[]; hasNextPage: boolean }> {
    const conditions = [eq(runs.tenant, tenant)];
    if (opts.afterId) conditions.push(lt(runs.id, opts.afterId));
    if (opts.serviceId) conditions.push(eq(runs.serviceId, opts.serviceId));
    if (opts.status) conditions.push(eq(runs.state, opts.status));
    const rows = await db
      .select()
      .from(runs)
      .where(and(...conditions))
      .orderBy(desc(runs.id))
      .limit(opts.first + 1);
    return { items: rows.slice(0, opts.first), hasNextPage: rows.length > opts.first };
  }

  async function events(runId: string, after: number, first: number) {
    return db
      .select()
      .from(runEvents)
      .where(and(eq(runEvents.runId, runId), sql`${runEvents.seq} > ${after}`))
      .orderBy(runEvents.seq)
      .limit(first);
  }

  /** Called whenever a run's state changes (in this process or, through fan-out, in another). */
  function notifyChanged(run: RunRow): void {
    const set = waiters.get(run.id);
    if (set) for (const wake of set) wake(run);
  }

  /**
   * Resolves with the run once it is terminal or `ms` passed. Wakes on changes
   * seen in this process and polls the database as a fallback for runs that
   * another gateway process moves.
   */
  async function waitForTerminal(run: RunRow, ms: number): Promise<RunRow> {
    if (ms <= 0 || isTerminal(run.state as RunState)) return run;
    let latest = run;
    await new Promise<void>((resolve) => {
      const wake = (changed: RunRow) => {
        latest = changed;
        if (isTerminal(changed.state as RunState)) done();
      };
      const poll = setInterval(() => {
        void get(run.tenant, run.id).then((r) => r && wake(r));
      }, 250);
      const timer = setTimeout(() => done(), ms);
      let set = waiters.get(run.id);
      if (!set) waiters.set(run.id, (set = new Set()));
      set.add(wake);
      function done() {
        clearTimeout(timer);
        clearInterval(poll);
        set!.delete(wake);
        if (set!.size === 0) waiters.delete(run.id);
        resolve();
      }
    });
    return latest;
  }

  return { trigger, cancel, get, list, events, notifyChanged, waitForTerminal };
}
