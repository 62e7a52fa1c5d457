/**
 * Load generator of the registry benchmark (server/bench/registry.ts).
 *
 * Runs as a child process so that autocannon has its own event loop, heap and
 * CPU time instead of competing with the gateway inside one Node process. It
 * receives one job at a time over IPC, runs autocannon against `url` and
 * answers with throughput and latency percentiles. Latency is recorded from
 * autocannon's per-response timings (sub-millisecond precision; autocannon's
 * own histogram has 1 ms buckets).
 */
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  /** POST bodies, used in turn across all connections (one body = a static request). */
  bodies: string[];
  durationS: number;
  connections: number;
  pipelining: number;
}

export interface LoadResult {
  /** Completed 2xx responses. */
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

export type LoadReply = { ok: true; result: LoadResult } | { ok: false; error: string };

const HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

async function run(job: LoadJob): Promise<LoadResult> {
  const { bodies } = job;
  let next = 0;
  const request: autocannon.Request =
    bodies.length === 1
      ? { method: 'POST', path: '/graphql', headers: HEADERS, body: bodies[0]! }
      : {
          method: 'POST',
          path: '/graphql',
          headers: HEADERS,
          // One counter shared by every connection: consecutive requests ask for different rows.
          setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length]! }),
        };

  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const startedAt = process.hrtime.bigint();
  let instance: autocannon.Instance | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        pipelining: job.pipelining,
        duration: job.durationS,
        requests: [request],
        timeout: 10,
      },
      (error: unknown, result: autocannon.Result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result)),
    );
  });
  instance!.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (statusCode < 200 || statusCode > 299) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = responseTime;
  });
  const result = await finished;
  const elapsedS = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const sorted = latencies.subarray(0, count).sort();
  const durationS = result.duration > 0 ? result.duration : elapsedS;
  return {
    requests: count,
    durationS,
    rps: count / durationS,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send?.({ ok: true, result } satisfies LoadReply),
    (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? error.message : String(error) } satisfies LoadReply),
  );
});
// The parent owns the lifetime: Ctrl-C reaches the whole process group, and the
// parent cleans up (and ends this process) itself.
process.on('SIGINT', () => {});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
