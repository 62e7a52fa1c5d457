/** `synapse tail <runId>`: streams a run's events (runEvents subscription) with a progress bar. */
import { parseArgs } from 'node:util';
import { type RunEvent, watchRun } from '../urql/watch-run.js';
import { gatewayClient, RunQuery } from './gateway.js';
import { DEFAULT_GATEWAY, EXIT, type CliIo, UsageError } from './io.js';
import { eventLine, progressBar, shortType, type TailEvent, TERMINAL_STATES } from './progress.js';

export const TAIL_USAGE = `Usage: synapse tail <runId> [options]

Streams the events of a run as they happen (replaying the earlier ones first):
output chunks go to stdout (stderr chunks to stderr), progress is drawn as a bar,
every other event is one line on stderr. Ends when the run ends.

Options:
  --after <seq>      start after this event sequence number
  --json             one JSON object per event on stdout
  --poll             poll over HTTP instead of subscribing over WebSocket
  --gateway <url>    gateway (env SYNAPSE_URL; default ${DEFAULT_GATEWAY}); API key in env SYNAPSE_TOKEN
  -h, --help

Exit codes: 0 succeeded; 1 the run ended otherwise; 2 usage; 3 unknown run or gateway unreachable.
`;

/** A WebSocket constructor: the global one (Node 22+, browsers) or the `ws` package when installed. */
async function webSocketImpl(): Promise<unknown> {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') return (globalThis as { WebSocket?: unknown }).WebSocket;
  try {
    const ws = (await import('ws')) as { default?: unknown; WebSocket?: unknown };
    return ws.WebSocket ?? ws.default;
  } catch {
    return undefined;
  }
}

export async function tailCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      after: { type: 'string' },
      json: { type: 'boolean', default: false },
      poll: { type: 'boolean', default: false },
      gateway: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(TAIL_USAGE);
    return EXIT.ok;
  }
  const [runId, ...extra] = positionals;
  if (!runId) throw new UsageError('tail: a run id is required');
  if (extra.length > 0) throw new UsageError(`tail: unexpected argument ${JSON.stringify(extra[0])}`);
  let after = 0;
  if (values.after !== undefined) {
    if (!/^\d{1,9}$/.test(values.after)) throw new UsageError('tail: --after must be a sequence number');
    after = Number(values.after);
  }
  const gateway = values.gateway ?? io.env.SYNAPSE_URL ?? DEFAULT_GATEWAY;
  const ws = values.poll ? undefined : await webSocketImpl();
  const client = gatewayClient(gateway, ws, io.env.SYNAPSE_TOKEN);
  const tty = Boolean(io.stderr.isTTY);
  let barShown = false;
  let lastState: string | undefined;
  const clearBar = () => {
    if (barShown) io.stderr.write('\r\x1b[2K');
    barShown = false;
  };

  const show = (e: TailEvent) => {
    lastState = e.state;
    if (values.json) {
      io.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    const type = shortType(e.type);
    const data = e.data ?? {};
    if (type === 'output' && typeof data.chunk === 'string') {
      clearBar();
      (data.stream === 'stderr' ? io.stderr : io.stdout).write(data.chunk);
      return;
    }
    if (type === 'progress' && typeof data.progress === 'number') {
      const line = progressBar(data.progress, typeof data.message === 'string' ? data.message : '');
      if (tty) {
        io.stderr.write(`\r\x1b[2K${line}`);
        barShown = true;
      } else io.stderr.write(`${line}\n`);
      return;
    }
    if (type === 'heartbeat') return;
    clearBar();
    io.stderr.write(`${eventLine(e)}\n`);
    if (TERMINAL_STATES.has(e.state) && TERMINAL_STATES.has(type)) {
      if (data.output !== undefined && data.output !== null) io.stderr.write(`output: ${JSON.stringify(data.output)}\n`);
      if (data.error !== undefined && data.error !== null) io.stderr.write(`error: ${JSON.stringify(data.error)}\n`);
    }
  };

  try {
    // The run must exist: a clear error rather than an empty stream.
    const first = await client.query(RunQuery, { id: runId, after, first: 1 }).toPromise();
    if (first.error) {
      io.stderr.write(`synapse: the gateway could not be reached or failed: ${first.error.message}\n`);
      return EXIT.gateway;
    }
    if (!first.data?.run) {
      io.stderr.write(`synapse: no run ${runId}\n`);
      return EXIT.gateway;
    }
    let failure: unknown;
    if (ws !== undefined) {
      const watch = watchRun<RunEvent & TailEvent>(client, runId, show, {
        after,
        fields: 'seq type state reason data',
        maxRetries: 10,
        onError: (error, willRetry) => {
          if (!willRetry) failure = error;
        },
      });
      const stop = io.onSignal?.(() => watch.unsubscribe());
      const end = await watch.done;
      stop?.();
      if (end === 'failed') {
        clearBar();
        io.stderr.write(`synapse: the event stream failed: ${failure instanceof Error ? failure.message : String(failure)}\n`);
        return EXIT.gateway;
      }
      if (end === 'unsubscribed') return EXIT.runFailed;
    } else {
      // No WebSocket implementation: poll the event log.
      let stopped = false;
      const stop = io.onSignal?.(() => (stopped = true));
      let cursor = after;
      for (;;) {
        const r = await client.query(RunQuery, { id: runId, after: cursor, first: 500 }).toPromise();
        if (r.error || !r.data?.run) {
          io.stderr.write(`synapse: polling failed: ${r.error?.message ?? 'no such run'}\n`);
          stop?.();
          return EXIT.gateway;
        }
        for (const e of r.data.run.events) {
          cursor = e.seq;
          show(e as TailEvent);
        }
        if (stopped || (TERMINAL_STATES.has(r.data.run.state) && r.data.run.events.length < 500)) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      stop?.();
      lastState ??= first.data.run.state;
    }
    clearBar();
    return lastState === 'succeeded' ? EXIT.ok : EXIT.runFailed;
  } finally {
    await client.dispose();
  }
}
