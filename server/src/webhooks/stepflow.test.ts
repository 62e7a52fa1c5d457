import { describe, expect, it } from 'vitest';
import { EventEnvelopeSchema } from '../protocol/index.js';
import { isStepflowOutcome, stepflowEnvelope, type StepflowRun } from './stepflow.js';

const run: StepflowRun = {
  id: 'run-1',
  tenant: 'acme',
  origin: 'envelope',
  state: 'succeeded',
  reason: 'succeeded reported by the Axon',
  output: { answer: 42 },
  error: null,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  callerCommandId: 'wf-cmd-7',
  callerTarget: 'trn:synapse:acme:action/mail/send',
  createdAt: new Date('2026-01-04T12:00:00.000Z'),
  finishedAt: new Date('2026-01-04T12:00:00.480Z'),
};
const at = new Date('2026-01-04T12:00:00.480Z');
const ev = (state: string, data: unknown = { status: state }, type = `aionix.openact.action.${state}`) => ({ type, state, time: at, data });

describe('isStepflowOutcome', () => {
  it.each([
    { name: 'succeeded of an envelope run', run, event: ev('succeeded'), want: true },
    { name: 'timed_out (gateway event)', run, event: ev('timed_out'), want: true },
    { name: 'a progress event', run, event: { ...ev('running'), type: 'aionix.openact.action.progress' }, want: false },
    { name: 'a late failed event on a succeeded run', run, event: ev('succeeded', {}, 'aionix.openact.action.failed'), want: false },
    { name: 'a graphql run', run: { ...run, origin: 'graphql' }, event: ev('succeeded'), want: false },
    { name: 'an envelope run without its caller', run: { ...run, callerCommandId: null }, event: ev('succeeded'), want: false },
  ])('$name → $want', ({ run: r, event, want }) => {
    expect(isStepflowOutcome(r, event)).toBe(want);
  });
});

describe('stepflowEnvelope', () => {
  it.each([
    { state: 'succeeded', type: 'succeeded', data: { status: 'succeeded', output: { answer: 42 } } },
    { state: 'failed', type: 'failed', data: { status: 'failed', error: { message: 'disk full' } } },
    { state: 'cancelled', type: 'cancelled', data: { status: 'cancelled' } },
    { state: 'rejected', type: 'failed', data: { status: 'rejected', error: { message: 'busy' } } },
    { state: 'timed_out', type: 'failed', data: { status: 'timed_out', error: { code: 'timed_out', message: 'no heartbeat for 30 s' } } },
    { state: 'lost', type: 'failed', data: { status: 'lost', error: { code: 'lost', message: 'no heartbeat for 30 s' } } },
    { state: 'expired', type: 'failed', data: { status: 'expired', error: { code: 'expired', message: 'no heartbeat for 30 s' } } },
  ])('$state → aionix.openact.action.$type', ({ state, type, data }) => {
    const original = state === 'failed' ? { status: 'failed', error: { message: 'disk full' } } : state === 'rejected' ? { status: 'rejected', error: { message: 'busy' } } : { status: state };
    const r = { ...run, state, reason: 'no heartbeat for 30 s' };
    const built = stepflowEnvelope(r, ev(state, original), '019b8945-4000-7000-8000-000000000001');
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(EventEnvelopeSchema.safeParse(built.value).success).toBe(true);
    expect(built.value).toEqual({
      specversion: '1.0',
      id: '019b8945-4000-7000-8000-000000000001',
      source: 'trn:synapse:acme:gateway',
      type: `aionix.openact.action.${type}`,
      time: '2026-01-04T12:00:00.480Z',
      datacontenttype: 'application/json',
      data: { ...data, durationMs: 480 },
      aionixSchemaVersion: '1.1.0',
      tenant: 'acme',
      traceId: run.traceId,
      resourceTrn: 'trn:synapse:acme:action/mail/send',
      runId: 'run-1',
      correlationId: 'wf-cmd-7',
    });
  });

  it('keeps the outcome when the payload is too large', () => {
    const built = stepflowEnvelope(run, ev('succeeded', { status: 'succeeded', output: 'x'.repeat(70_000) }), '019b8945-4000-7000-8000-000000000002');
    expect(built.ok && built.value.data).toEqual({ status: 'succeeded', truncated: true, durationMs: 480 });
  });

  it('refuses a state that is not an outcome', () => {
    expect(stepflowEnvelope(run, ev('running'), '019b8945-4000-7000-8000-000000000003').ok).toBe(false);
  });
});
