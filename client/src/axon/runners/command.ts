/**
 * The `command` runner: executes a registry definition's `spec.cmd` with
 * `bash -c` in `spec.cwd`, resolved under the Axon's root at run time (symlinks
 * followed). Node only; enabled only with `runners: ['command']`.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ActionContext, Runner, RunnerOptions } from '../axon.js';
import { ActionError } from '../errors.js';
import { resolveUnderRoot } from './cwd.js';
import { runForContext } from './shell.js';

export const COMMAND_SPEC_LIMITS = { cmdChars: 20_000, timeoutDefault: 60, timeoutMin: 1, timeoutMax: 3_600 } as const;

export interface CommandSpec {
  cmd: string;
  shell: 'bash';
  cwd: string;
  timeout_s: number;
}

const refuse = (code: string, message: string) => new ActionError(message, { code, reason: code, outcome: 'rejected' });

/** A definition's spec, checked again on the Axon (the gateway validated it, but trusts nothing here). */
export function parseCommandSpec(spec: Record<string, unknown>): CommandSpec {
  const { cmd, shell, cwd, timeout_s: timeout } = spec;
  if (typeof cmd !== 'string' || cmd.trim() === '') throw refuse('invalid_spec', 'spec.cmd must be a non-empty string');
  if (cmd.length > COMMAND_SPEC_LIMITS.cmdChars) throw refuse('invalid_spec', `spec.cmd must be at most ${COMMAND_SPEC_LIMITS.cmdChars} characters`);
  if (shell !== undefined && shell !== 'bash') throw refuse('invalid_spec', 'spec.shell must be "bash"');
  if (cwd !== undefined && typeof cwd !== 'string') throw refuse('invalid_cwd', 'spec.cwd must be a string');
  let timeoutS: number = COMMAND_SPEC_LIMITS.timeoutDefault;
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout)) throw refuse('invalid_spec', 'spec.timeout_s must be a number');
    timeoutS = Math.min(COMMAND_SPEC_LIMITS.timeoutMax, Math.max(COMMAND_SPEC_LIMITS.timeoutMin, timeout));
  }
  return { cmd, shell: 'bash', cwd: cwd ?? '.', timeout_s: timeoutS };
}

/** The working directory under `root`, checked now (not when the definition was saved). */
export function runtimeCwd(cwd: string, root: string): string {
  const checked = resolveUnderRoot(cwd, root, (p) => realpathSync.native(p));
  if (!checked.ok) throw refuse(checked.code, checked.message);
  if (!statSync(checked.path).isDirectory()) throw refuse('invalid_cwd', `cwd ${JSON.stringify(checked.relative)} is not a directory`);
  return checked.path;
}

export function createCommandRunner(options: RunnerOptions = {}): Runner {
  const root = path.resolve(options.root ?? process.cwd());
  return {
    kind: 'command',
    async run(ctx: ActionContext, definition) {
      const spec = parseCommandSpec(definition.spec);
      const cwd = runtimeCwd(spec.cwd, root);
      return runForContext(ctx, {
        file: 'bash',
        args: ['-c', spec.cmd],
        cwd,
        timeoutS: spec.timeout_s,
        ...(options.env ? { env: options.env } : {}),
        ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
        ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      });
    },
  };
}

/**
 * A handler that runs a shell command of the Axon's own (the CLI's `--action id=cmd`):
 * `bash -c cmd` in `root`, with the run's input as JSON on stdin and in `SYNAPSE_INPUT`.
 */
export function shellAction(cmd: string, options: RunnerOptions & { timeoutS?: number } = {}): (ctx: ActionContext) => Promise<Record<string, unknown>> {
  const root = path.resolve(options.root ?? process.cwd());
  return (ctx) => {
    const input = JSON.stringify(ctx.input ?? null);
    return runForContext(ctx, {
      file: 'bash',
      args: ['-c', cmd],
      cwd: root,
      timeoutS: options.timeoutS ?? 300,
      stdin: input,
      env: { ...(options.env ?? process.env), SYNAPSE_INPUT: input.length <= 128 * 1024 ? input : undefined },
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
    });
  };
}
