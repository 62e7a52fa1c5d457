// The Stepflow waiter (seed 002): a run started through
// `POST /actions/{trn}/execute` reports its outcome to STEPFLOW_EVENTS_URL as
// one EventEnvelope that speaks the caller's terms (its command id, target and
// trace). Pure: ids and the clock are passed in.
import {
  buildEventEnvelope,
  type EventEnvelope,
  type EventShortType,
  gatewaySourceTrn,
  isTerminal,
  type RunState,
} from '../protocol/index.js';

/** What Stepflow is told for each terminal state: it knows succeeded, failed and cancelled. */
export const STEPFLOW_OUTCOME: Record<string, 'succeeded' | 'failed' | 'cancelled'> = {
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  rejected: 'failed',
  timed_out: 'failed',
  lost: 'failed',
  expired: 'failed',
};

export interface StepflowRun {
  id: string;
  tenant: string;
  origin: string;
  state: string;
  reason: string | null;
  output: unknown;
  error: unknown;
  traceId: string;
  callerCommandId: string | null;
  callerTarget: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface StepflowEvent {
  /** The stored event's type and the run's state after it. */
  type: string;
  state: string;
  time: Date;
  data: unknown;
}

/**
 * Whether this stored event is the one that ended an envelope run: a terminal
 * event whose type names the state it left the run in. (A late event of the
 * same type is stopped by the one-per-run unique index.)
 */
export function isStepflowOutcome(run: Pick<StepflowRun, 'origin' | 'callerCommandId' | 'callerTarget'>, event: Pick<StepflowEvent, 'type' | 'state'>): boolean {
  if (run.origin !== 'envelope' || !run.callerCommandId || !run.callerTarget) return false;
  return isTerminal(event.state as RunState) && event.type.endsWith(`.${event.state}`);
}

/** The EventEnvelope Stepflow receives for a run's outcome. */
export function stepflowEnvelope(run: StepflowRun, event: StepflowEvent, id: string): { ok: true; value: EventEnvelope } | { ok: false; message: string } {
  const outcome = STEPFLOW_OUTCOME[event.state];
  if (!outcome || !run.callerCommandId || !run.callerTarget) return { ok: false, message: `not an outcome of an envelope run: ${event.state}` };
  const original = event.data !== null && typeof event.data === 'object' && !Array.isArray(event.data) ? (event.data as Record<string, unknown>) : {};
  const data: Record<string, unknown> = { ...original, status: event.state };
  if (run.finishedAt) data.durationMs = Math.max(0, run.finishedAt.getTime() - run.createdAt.getTime());
  if (outcome === 'succeeded') data.output = original.output ?? run.output ?? null;
  else if (outcome === 'failed') data.error = original.error ?? run.error ?? { code: event.state, message: run.reason ?? event.state };
  const build = (payload: Record<string, unknown>) =>
    buildEventEnvelope({
      id,
      now: event.time.getTime(),
      source: gatewaySourceTrn(run.tenant),
      tenant: run.tenant,
      shortType: outcome satisfies EventShortType,
      data: payload as EventEnvelope['data'],
      traceId: run.traceId,
      resourceTrn: run.callerTarget!,
      runId: run.id,
      correlationId: run.callerCommandId!,
    });
  let built = build(data);
  if (!built.ok && built.error.code === 'too_large') {
    // The outcome matters more than its payload: Stepflow still learns it.
    built = build({ status: event.state, truncated: true, ...(data.durationMs !== undefined ? { durationMs: data.durationMs } : {}) });
  }
  return built.ok ? { ok: true, value: built.value } : { ok: false, message: built.error.message };
}
