import { describe, expect, it } from 'vitest';
import type { RunEventRow } from '../runs/events.js';
import { runEventStream } from './run-stream.js';

const row = (seq: number, short: string, state: string): RunEventRow =>
  ({ id: seq, runId: 'r', seq, tenant: 't', source: 's', eventId: `e${seq}`, type: `aionix.openact.action.${short}`, state }) as unknown as RunEventRow;

/**
 * A run whose rows become visible in the database at given moments and are
 * announced live in a given order: `stored[i]` is visible once `visibleAfter[i]`
 * announcements were consumed.
 */
function scenario(stored: RunEventRow[], visibleAfter: number[], announced: number[], terminalAfter: number, feedEnds = false) {
  let consumed = 0;
  const live = announced.map((seq) => stored.find((e) => e.seq === seq)!);
  return {
    eventsAfter: async (after: number, limit: number) => stored.filter((e, i) => visibleAfter[i]! <= consumed && e.seq > after).slice(0, limit),
    runIsTerminal: async () => consumed >= terminalAfter,
    next: () => {
      const event = live[consumed];
      if (event) consumed += 1;
      // Like the real feed, no announcement means waiting (for ever, here), unless the feed ended.
      return event || feedEnds ? Promise.resolve(event) : new Promise<undefined>(() => {});
    },
  };
}

/** The sequences the stream yields before it ends; fails if it waits for more instead of ending. */
async function collect(stream: AsyncGenerator<RunEventRow>): Promise<number[]> {
  const seqs: number[] = [];
  const drained = (async () => {
    for await (const event of stream) seqs.push(event.seq);
  })();
  const waiting = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not end after ${seqs.join(',')}`)), 200));
  await Promise.race([drained, waiting]);
  return seqs;
}

// The Axon answered before the gateway recorded `dispatched`: seq 2 is the outcome, seq 3 the late `dispatched` (state succeeded).
const outcomeFirst = [row(1, 'requested', 'requested'), row(2, 'succeeded', 'succeeded'), row(3, 'dispatched', 'succeeded')];
const inOrder = [row(1, 'requested', 'requested'), row(2, 'dispatched', 'dispatched'), row(3, 'succeeded', 'succeeded')];

describe('runEventStream', () => {
  it.each([
    { label: 'in order, announced in order', stored: inOrder, visibleAfter: [0, 0, 0], announced: [2, 3], terminalAfter: 99, after: 0, expected: [1, 2, 3] },
    { label: 'in order, all stored before the replay', stored: inOrder, visibleAfter: [0, 0, 0], announced: [], terminalAfter: 0, after: 0, expected: [1, 2, 3] },
    { label: 'outcome stored first, announced in order', stored: outcomeFirst, visibleAfter: [0, 1, 2], announced: [2, 3], terminalAfter: 1, after: 0, expected: [1, 2] },
    // The hang this guards against: the outcome arrives through the gap's catch-up, the live event after it is not an end.
    { label: 'outcome stored first, its announcement after the late dispatched', stored: outcomeFirst, visibleAfter: [0, 1, 1], announced: [3, 2], terminalAfter: 1, after: 0, expected: [1, 2, 3] },
    { label: 'reconnect after 1 with the outcome in a gap', stored: outcomeFirst, visibleAfter: [0, 1, 1], announced: [3, 2], terminalAfter: 1, after: 1, expected: [2, 3] },
    { label: 'announcements repeated and behind the replay', stored: inOrder, visibleAfter: [0, 0, 1], announced: [2, 2, 1, 3], terminalAfter: 99, after: 0, expected: [1, 2, 3] },
  ])('$label: yields $expected and ends', async ({ stored, visibleAfter, announced, terminalAfter, after, expected }) => {
    const seqs = await collect(runEventStream(scenario(stored, visibleAfter, announced, terminalAfter), after));
    expect(seqs).toEqual(expected);
  });

  it('ends when the live feed ends before the run does', async () => {
    expect(await collect(runEventStream(scenario(inOrder, [0, 5, 5], [], 99, true), 0))).toEqual([1]);
  });
});
