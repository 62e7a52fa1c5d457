// A run's events for a subscriber: stored ones after `after`, then live ones,
// with no gap and no duplicate, ending after the event that made the run
// terminal. Transport-free: the database, the live feed and the queue are
// passed in, so the hand-over rules are tested on their own (run-stream.test.ts).
import type { RunEventRow } from '../runs/events.js';
import { isTerminal, isRunState } from '../protocol/index.js';

export interface RunEventSource {
  /** Stored events with seq > `after`, in order, at most `limit`. */
  eventsAfter(after: number, limit: number): Promise<RunEventRow[]>;
  /** Whether the run is in a terminal state now. */
  runIsTerminal(): Promise<boolean>;
  /** The live events of this run, in whatever order their writers finish (attached before the replay starts). */
  next(): Promise<RunEventRow | undefined>;
}

export const REPLAY_PAGE = 500;

/** The event that moved a run into a terminal state (events stored after it keep that state too). */
export function isEndOf(event: RunEventRow): boolean {
  return isRunState(event.state) && isTerminal(event.state) && event.type.endsWith(`.${event.state}`);
}

/**
 * Live events are buffered from before the replay starts; those already
 * delivered are skipped, and a gap (a live event ahead of the next expected
 * sequence) is filled from the database. Writers commit in sequence order but
 * may announce out of order (the relay's `dispatched` can be announced before
 * the Axon's outcome stored just ahead of it), so the end may arrive through a
 * gap's catch-up: wherever it is seen, the stream delivers what is stored after
 * it and ends.
 */
export async function* runEventStream(source: RunEventSource, after: number): AsyncGenerator<RunEventRow> {
  let last = after;
  let ended = false;
  async function* catchUp(until: number): AsyncGenerator<RunEventRow> {
    for (;;) {
      const page = await source.eventsAfter(last, REPLAY_PAGE);
      for (const event of page) {
        if (event.seq >= until) return;
        last = event.seq;
        if (isEndOf(event)) ended = true;
        yield event;
      }
      if (page.length < REPLAY_PAGE) return;
    }
  }
  yield* catchUp(Number.POSITIVE_INFINITY);
  // Terminal already (seen in the replay, or ended meanwhile): deliver whatever arrived since, then end.
  if (ended || (await source.runIsTerminal())) {
    yield* catchUp(Number.POSITIVE_INFINITY);
    return;
  }
  for (;;) {
    const event = await source.next();
    if (!event) return;
    if (event.seq <= last) continue;
    if (event.seq > last + 1) yield* catchUp(event.seq);
    if (event.seq <= last) continue;
    last = event.seq;
    if (isEndOf(event)) ended = true;
    yield event;
    if (ended) {
      yield* catchUp(Number.POSITIVE_INFINITY);
      return;
    }
  }
}
