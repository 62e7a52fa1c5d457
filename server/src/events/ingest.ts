// Event ingest: validates EventEnvelopes from Axons (MQTT or HTTP), stores
// each once (unique source+id), appends it to its run's log with the next
// sequence number and moves the run's state, all in one transaction. Events
// that arrive while a transaction runs are batched into the next one, so the
// database sees few large commits under load and no waiting when idle.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { runEvents, runs } from '../db/schema.js';
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
  type RunState,
} from '../protocol/index.js';
import type { RunEventRow, RunRow, StoredEventHook } from '../runs/events.js';

export const EVENT_INGEST_LIMITS = {
  /** A run's stored output; beyond it output events are dropped after one marker event. */
  maxRunOutputBytes: 8 * 1024 * 1024,
  maxBatch: 500,
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
}

interface Pending {
  event: NormalisedEvent;
  resolve: (result: IngestResult) => void;
  reject: (error: unknown) => void;
}

export type EventIngest = ReturnType<typeof createEventIngest>;

export function createEventIngest(options: EventIngestOptions) {
  const { db, logger } = options;
  let queue: Pending[] = [];
  let flushing = false;

  function reject(code: string, path: string, message: string, context: Record<string, unknown> = {}): IngestResult {
    options.onRejected?.(code);
    logger.warn({ code, path, reason: message, ...context }, 'event rejected');
    return { ok: false, code, path, message };
  }

  function outputSize(event: NormalisedEvent): number {
    const size = jsonByteSize(event.data.chunk ?? event.data.output ?? event.data);
    return size.ok ? size.value : 0;
  }

  async function storeOne(tx: Parameters<Parameters<Database['transaction']>[0]>[0], event: NormalisedEvent): Promise<IngestResult & { changed?: boolean }> {
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

  async function flush(): Promise<void> {
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, EVENT_INGEST_LIMITS.maxBatch);
        queue = queue.slice(batch.length);
        let results: Array<IngestResult & { changed?: boolean }>;
        try {
          results = await db.transaction(async (tx) => {
            const out: Array<IngestResult & { changed?: boolean }> = [];
            for (const item of batch) out.push(await storeOne(tx, item.event));
            return out;
          });
        } catch (error) {
          // Nothing of the batch is stored: every sender keeps its message unacknowledged.
          for (const item of batch) item.reject(error);
          continue;
        }
        batch.forEach((item, i) => {
          const result = results[i]!;
          if (result.ok && result.run) {
            if (result.event) options.onEvent?.(result.event, result.run);
            if (result.changed) options.onRunChanged?.(result.run);
          }
          const { changed: _changed, ...plain } = result;
          item.resolve(plain);
        });
      }
    } finally {
      flushing = false;
    }
  }

  function enqueue(event: NormalisedEvent): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, rejectPromise) => {
      queue.push({ event, resolve, reject: rejectPromise });
      if (!flushing) void flush();
    });
  }

  /** An event from MQTT `{prefix}/event/{serviceId}`. Rejects only when it could not be stored. */
  async function ingestBytes(topicServiceId: string, payload: Uint8Array): Promise<IngestResult> {
    const parsed = parseEventBytes(payload, { topicServiceId });
    if (!parsed.ok) return reject(parsed.error.code, parsed.error.path, parsed.error.message, { serviceId: topicServiceId.slice(0, 128) });
    return enqueue(parsed.value);
  }

  /** An event from `POST /api/v1/events`. */
  async function ingestJson(body: unknown): Promise<IngestResult> {
    const parsed = parseEventEnvelope(body);
    if (!parsed.ok) return reject(parsed.error.code, parsed.error.path, parsed.error.message);
    return enqueue(parsed.value);
  }

  /** Appends a gateway event (sweeper, cancel) through the same path. */
  async function ingestGatewayEvent(envelope: EventEnvelope, serviceId: string, shortType: NormalisedEvent['shortType'] | string): Promise<IngestResult> {
    return enqueue({
      id: envelope.id,
      source: envelope.source,
      serviceId,
      tenant: envelope.tenant,
      type: envelope.type as NormalisedEvent['type'],
      shortType: shortType as NormalisedEvent['shortType'],
      time: envelope.time,
      data: envelope.data,
      traceId: envelope.traceId,
      resourceTrn: envelope.resourceTrn,
      runId: envelope.runId,
      correlationId: envelope.correlationId,
      envelope,
    });
  }

  return { ingestBytes, ingestJson, ingestGatewayEvent };
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
