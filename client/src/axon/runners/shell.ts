/**
 * Runs a process for a handler and turns its result into the run's outcome:
 * output streamed through `ctx.output`, a truncation marker event, and the exit
 * code and duration as the result (or an `ActionError`). Node only.
 */
import type { ActionContext } from '../axon.js';
import { ActionError } from '../errors.js';
import { childEnv, type ProcessResult, runProcess } from './process.js';

export interface RunForContextOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  timeoutS: number;
  stdin?: string;
  env?: Record<string, string | undefined>;
  maxOutputBytes?: number;
  killGraceMs?: number;
}

/** The outcome of a finished process: `{exitCode, durationMs, …}` on exit code 0, else an ActionError. */
export function processOutcome(r: ProcessResult, timeoutS: number, file: string): Record<string, unknown> {
  const details = {
    exitCode: r.exitCode,
    signal: r.signal,
    durationMs: r.durationMs,
    outputBytes: r.outputBytes,
    truncated: r.truncated,
    ...(r.truncated ? { droppedBytes: r.droppedBytes } : {}),
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
    tail: r.tail,
  };
  if (r.spawnError) {
    throw new ActionError(`could not start ${file}: ${r.spawnError.message}`, { code: 'spawn_failed', reason: 'spawn_failed', details: { durationMs: r.durationMs } });
  }
  if (r.aborted) throw new ActionError('stopped', { code: 'aborted', details });
  if (r.timedOut) {
    throw new ActionError(`timed out after ${timeoutS} s; the process group was killed`, { code: 'timeout', reason: 'timeout', details: { ...details, timeoutS } });
  }
  if (r.exitCode !== 0) {
    const what = r.exitCode === null ? `killed by ${r.signal ?? 'a signal'}` : `exit code ${r.exitCode}`;
    throw new ActionError(what, { code: 'exit_code', reason: what, details });
  }
  return details;
}

export async function runForContext(ctx: ActionContext, o: RunForContextOptions): Promise<Record<string, unknown>> {
  const env = childEnv(o.env ?? process.env, {
    SYNAPSE_RUN_ID: ctx.runId,
    SYNAPSE_SERVICE_ID: ctx.serviceId,
    SYNAPSE_ACTION_ID: ctx.actionId,
    SYNAPSE_COMMAND_ID: ctx.commandId,
    SYNAPSE_TRACE_ID: ctx.traceId,
    ...(ctx.definition ? { SYNAPSE_DEFINITION_ID: ctx.definition.id } : {}),
  });
  const r = await runProcess({
    file: o.file,
    args: o.args,
    cwd: o.cwd,
    env,
    ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
    timeoutMs: o.timeoutS * 1000,
    signal: ctx.signal,
    ...(o.maxOutputBytes !== undefined ? { maxOutputBytes: o.maxOutputBytes } : {}),
    ...(o.killGraceMs !== undefined ? { killGraceMs: o.killGraceMs } : {}),
    onOutput: (chunk, stream) => ctx.output(chunk, stream),
    onTruncated: ({ limitBytes }) => ctx.output(`\n[output truncated: more than ${limitBytes} bytes; the rest is discarded]\n`, 'stderr', { truncated: true, limitBytes }),
    onSpawn: (pid) => ctx.progress(0, `started pid ${pid}`),
  });
  return processOutcome(r, o.timeoutS, o.file);
}
