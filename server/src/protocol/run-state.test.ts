import { describe, expect, it } from 'vitest';
import { EVENT_SHORT_TYPES, type EventShortType } from './event.js';
import { isRunState, isTerminal, nextRunState, RUN_STATES, RUN_TRANSITIONS, type RunState } from './run-state.js';

// The transition table written out by hand (docs/protocol.md has the same table).
// Columns, in order: requested dispatched accepted started progress output heartbeat
//                    succeeded failed rejected cancelled timed_out lost expired
const R = 'requested', D = 'dispatched', A = 'accepted', U = 'running';
const S = 'succeeded', F = 'failed', J = 'rejected', C = 'cancelled', T = 'timed_out', L = 'lost', E = 'expired';
const OUTCOMES = [S, F, J, C, T, L, E] as const;
const EXPECTED: Record<RunState, readonly RunState[]> = {
  requested:  [R, D, A, U, U, U, U, ...OUTCOMES],
  dispatched: [D, D, A, U, U, U, U, ...OUTCOMES],
  accepted:   [A, A, A, U, U, U, U, ...OUTCOMES],
  running:    [U, U, U, U, U, U, U, ...OUTCOMES],
  succeeded:  Array(14).fill(S),
  failed:     Array(14).fill(F),
  rejected:   Array(14).fill(J),
  cancelled:  Array(14).fill(C),
  timed_out:  Array(14).fill(T),
  lost:       Array(14).fill(L),
  expired:    Array(14).fill(E),
};

const CASES: Array<[RunState, EventShortType, RunState]> = RUN_STATES.flatMap((state) =>
  EVENT_SHORT_TYPES.map((event, i): [RunState, EventShortType, RunState] => [state, event, EXPECTED[state][i] as RunState]),
);

describe('nextRunState', () => {
  it('covers every state × event pair', () => {
    expect(CASES).toHaveLength(RUN_STATES.length * EVENT_SHORT_TYPES.length);
    expect(CASES).toHaveLength(11 * 14);
  });

  it.each(CASES)('%s + %s → %s', (state, event, expected) => {
    expect(nextRunState(state, event)).toBe(expected);
    expect(RUN_TRANSITIONS[state][event]).toBe(expected);
  });

  it.each(CASES.filter(([state]) => isTerminal(state)))('terminal %s never changes on %s', (state, event) => {
    expect(nextRunState(state, event)).toBe(state);
  });
});

describe('isTerminal / isRunState', () => {
  it.each<[RunState, boolean]>([
    ['requested', false],
    ['dispatched', false],
    ['accepted', false],
    ['running', false],
    ['succeeded', true],
    ['failed', true],
    ['rejected', true],
    ['cancelled', true],
    ['timed_out', true],
    ['lost', true],
    ['expired', true],
  ])('%s terminal: %s', (state, terminal) => {
    expect(isTerminal(state)).toBe(terminal);
    expect(isRunState(state)).toBe(true);
  });

  it.each([['done'], [''], [null], ['RUNNING']])('%s is not a run state', (s) => {
    expect(isRunState(s)).toBe(false);
  });
});
