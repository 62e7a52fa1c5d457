/**
 * Runs one process in a process group of its own and streams its output:
 * stdout/stderr in chunks of at most 16 KiB (flushed every 50 ms), total output
 * capped (then one truncation marker, the rest drained and counted), the whole
 * group killed at the timeout or on abort (SIGTERM, then SIGKILL after a grace),
 * and anything the process left running in its group killed when it exits.
 * Node only.
 */
import { spawn } from 'node:child_process';
import { splitText } from '../chunk.js';

export const PROCESS_DEFAULTS = {
  /** Just under the gateway's 8 MiB of stored output per run, so that the marker is stored too. */
  maxOutputBytes: 8 * 1024 * 1024 - 64 * 1024,
  chunkBytes: 16 * 1024,
  flushMs: 50,
  killGraceMs: 5_000,
  tailBytes: 2_048,
} as const;

export type Stream = 'stdout' | 'stderr';

export interface RunProcessOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** Written to stdin, then closed; absent: stdin is /dev/null. */
  stdin?: string;
  timeoutMs: number;
  signal: AbortSignal;
  killGraceMs?: number;
  maxOutputBytes?: number;
  chunkBytes?: number;
  flushMs?: number;
  onOutput(chunk: string, stream: Stream): void;
  /** Once, when the output cap is reached. */
  onTruncated?(info: { limitBytes: number }): void;
  onSpawn?(pid: number): void;
}

export interface ProcessResult {
  pid: number | undefined;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  aborted: boolean;
  /** Output bytes streamed as events. */
  outputBytes: number;
  /** Output bytes read after the cap and discarded. */
  droppedBytes: number;
  truncated: boolean;
  /** Processes were still in the group after the main one exited, and were killed. */
  killedLeftovers: boolean;
  /** The last ~2 KiB of streamed output. */
  tail: string;
  spawnError?: Error;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True while any process of group `pgid` exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export function runProcess(o: RunProcessOptions): Promise<ProcessResult> {
  const maxOutput = o.maxOutputBytes ?? PROCESS_DEFAULTS.maxOutputBytes;
  const chunkBytes = o.chunkBytes ?? PROCESS_DEFAULTS.chunkBytes;
  const flushMs = o.flushMs ?? PROCESS_DEFAULTS.flushMs;
  const grace = o.killGraceMs ?? PROCESS_DEFAULTS.killGraceMs;
  const started = Date.now();
  const result: ProcessResult = {
    pid: undefined,
    exitCode: null,
    signal: null,
    durationMs: 0,
    timedOut: false,
    aborted: false,
    outputBytes: 0,
    droppedBytes: 0,
    truncated: false,
    killedLeftovers: false,
    tail: '',
  };
  if (o.signal.aborted) return Promise.resolve({ ...result, aborted: true });

  return new Promise<ProcessResult>((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(o.file, [...o.args], {
        cwd: o.cwd,
        env: Object.fromEntries(Object.entries(o.env).filter((e): e is [string, string] => e[1] !== undefined)),
        detached: true, // a new session and process group, led by the child: kill(-pid) reaches all of it
        stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      resolve({ ...result, spawnError: error as Error, durationMs: Date.now() - started });
      return;
    }
    const pid = child.pid;
    result.pid = pid;

    // Output: per stream a byte buffer flushed at chunkBytes or after flushMs.
    const pending: Record<Stream, Buffer[]> = { stdout: [], stderr: [] };
    const pendingBytes: Record<Stream, number> = { stdout: 0, stderr: 0 };
    const decoders: Record<Stream, TextDecoder> = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const timers: Partial<Record<Stream, ReturnType<typeof setTimeout>>> = {};
    const send = (text: string, stream: Stream) => {
      if (text === '') return;
      result.tail = (result.tail + text).slice(-PROCESS_DEFAULTS.tailBytes);
      for (const piece of splitText(text, chunkBytes, 48 * 1024)) o.onOutput(piece, stream);
    };
    const flush = (stream: Stream, final = false) => {
      clearTimeout(timers[stream]);
      timers[stream] = undefined;
      const bytes = Buffer.concat(pending[stream]);
      pending[stream] = [];
      pendingBytes[stream] = 0;
      send(decoders[stream].decode(bytes, { stream: !final }), stream);
    };
    const onData = (stream: Stream) => (buf: Buffer) => {
      if (result.truncated) {
        result.droppedBytes += buf.length;
        return;
      }
      const room = maxOutput - result.outputBytes;
      const take = buf.length > room ? buf.subarray(0, room) : buf;
      result.outputBytes += take.length;
      if (take.length > 0) {
        pending[stream].push(take);
        pendingBytes[stream] += take.length;
      }
      if (take.length < buf.length) {
        result.droppedBytes += buf.length - take.length;
        result.truncated = true;
        flush('stdout', true);
        flush('stderr', true);
        o.onTruncated?.({ limitBytes: maxOutput });
        return;
      }
      if (pendingBytes[stream] >= chunkBytes) flush(stream);
      else timers[stream] ??= setTimeout(() => flush(stream), flushMs);
    };
    child.stdout!.on('data', onData('stdout'));
    child.stderr!.on('data', onData('stderr'));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the process may not read its stdin (EPIPE)
      child.stdin.end(o.stdin ?? '');
    }

    let killing = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const terminate = () => {
      if (killing || pid === undefined) return;
      killing = true;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), grace);
    };
    const timeout = setTimeout(() => {
      result.timedOut = true;
      terminate();
    }, Math.min(2 ** 31 - 1, Math.max(1, o.timeoutMs)));
    const onAbort = () => {
      result.aborted = true;
      terminate();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });

    const closed = new Promise<void>((r) => child.once('close', () => r()));
    let done = false;
    const end = async () => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      o.signal.removeEventListener('abort', onAbort);
      if (pid !== undefined && groupAlive(pid)) {
        // The main process is gone; whatever it left in its group goes too.
        if (!killing) result.killedLeftovers = true;
        terminate();
        const limit = Date.now() + grace + 5_000;
        while (groupAlive(pid) && Date.now() < limit) await sleep(20);
      }
      clearTimeout(killTimer);
      await Promise.race([closed, sleep(1_000)]);
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (!result.truncated) {
        flush('stdout', true);
        flush('stderr', true);
      }
      result.durationMs = Date.now() - started;
      resolve(result);
    };
    child.once('error', (error) => {
      if (pid === undefined) {
        result.spawnError = error;
        void end();
      }
    });
    child.once('exit', (code, signal) => {
      result.exitCode = code;
      result.signal = signal;
      void end();
    });
    if (pid !== undefined) o.onSpawn?.(pid);
  });
}

/** This process's environment without the Axon's own secrets. */
export function childEnv(base: Record<string, string | undefined> = process.env, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base };
  for (const secret of ['MQTT_PASSWORD', 'SYNAPSE_TOKEN', 'SYNAPSE_AUTH_TOKEN']) delete env[secret];
  return { ...env, ...extra };
}
