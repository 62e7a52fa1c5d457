/**
 * Run states and the pure transition function. See docs/protocol.md for the table.
 *
 * requested → dispatched → accepted → running → succeeded | failed | rejected |
 * cancelled | timed_out | lost | expired
 *
 * Rules:
 * - Terminal states never change (a late event is stored but moves nothing).
 * - Every terminal event (`succeeded`, `failed`, `rejected`, `cancelled`, `timed_out`,
 *   `lost`, `expired`) ends any non-terminal run in the state of the same name.
 * - States only move forward: `dispatched` moves only `requested`; `accepted` moves
 *   `requested`/`dispatched`; `started`, `progress`, `output` and `heartbeat` move
 *   `requested`/`dispatched`/`accepted` to `running` (an Axon may answer before the
 *   gateway has recorded `dispatched`). Anything else leaves the state unchanged.
 */
import { EVENT_SHORT_TYPES, type EventShortType } from './event.js';

export const RUN_STATES = [
  'requested',
  'dispatched',
  'accepted',
  'running',
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
  'timed_out',
  'lost',
  'expired',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL_RUN_STATES = [
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
  'timed_out',
  'lost',
  'expired',
] as const satisfies readonly RunState[];
export type TerminalRunState = (typeof TERMINAL_RUN_STATES)[number];

/** Position on the happy path; later positions never move back. */
const RANK: Readonly<Record<'requested' | 'dispatched' | 'accepted' | 'running', number>> = {
  requested: 0,
  dispatched: 1,
  accepted: 2,
  running: 3,
};

export function isRunState(s: unknown): s is RunState {
  return typeof s === 'string' && (RUN_STATES as readonly string[]).includes(s);
}

export function isTerminal(state: RunState): state is TerminalRunState {
  return (TERMINAL_RUN_STATES as readonly string[]).includes(state);
}

/** The state an event of this type leads to, if it is allowed to move the run forward. */
function targetOf(event: EventShortType): RunState | null {
  switch (event) {
    case 'requested':
      return 'requested';
    case 'dispatched':
      return 'dispatched';
    case 'accepted':
      return 'accepted';
    case 'started':
    case 'progress':
    case 'output':
    case 'heartbeat':
      return 'running';
    case 'succeeded':
    case 'failed':
    case 'rejected':
    case 'cancelled':
    case 'timed_out':
    case 'lost':
    case 'expired':
      return event;
  }
}

/** The run's state after an event of type `event` (the same state when it does not move). */
export function nextRunState(current: RunState, event: EventShortType): RunState {
  if (isTerminal(current)) return current;
  const target = targetOf(event);
  if (target === null) return current;
  if (isTerminal(target)) return target;
  const from = RANK[current as keyof typeof RANK];
  const to = RANK[target as keyof typeof RANK];
  return to > from ? target : current;
}

/** Full transition table: `RUN_TRANSITIONS[state][event]` = next state. */
export const RUN_TRANSITIONS: Readonly<Record<RunState, Readonly<Record<EventShortType, RunState>>>> = (() => {
  const table = {} as Record<RunState, Record<EventShortType, RunState>>;
  for (const state of RUN_STATES) {
    const row = {} as Record<EventShortType, RunState>;
    for (const event of EVENT_SHORT_TYPES) row[event] = nextRunState(state, event);
    table[state] = row;
  }
  return table;
})();
