/**
 * The `prompt` runner: runs a coding agent (default `codex exec --model {model}
 * -c reasoning={reasoning}`) with the definition's prompt on stdin, in the
 * Axon's root, with the same timeout, cancel and streaming rules as commands.
 * No shell is involved: the template is split on whitespace first, then the
 * placeholders are filled in. Node only; enabled only with `runners: ['prompt']`.
 */
import path from 'node:path';
import type { ActionContext, Runner, RunnerOptions } from '../axon.js';
import { ActionError } from '../errors.js';
import { runForContext } from './shell.js';

export const DEFAULT_PROMPT_COMMAND = 'codex exec --model {model} -c reasoning={reasoning}';
export const PROMPT_SPEC_LIMITS = { promptChars: 200_000, timeoutDefault: 45, timeoutMin: 5, timeoutMax: 300 } as const;
const VALUE = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;

export interface PromptSpec {
  prompt: string;
  agent: string;
  model: string;
  reasoning: string;
  timeout_s: number;
}

const refuse = (message: string) => new ActionError(message, { code: 'invalid_spec', reason: 'invalid_spec', outcome: 'rejected' });

export function parsePromptSpec(spec: Record<string, unknown>): PromptSpec {
  const { prompt, agent = 'codex', model, reasoning = 'medium', timeout_s: timeout } = spec;
  if (typeof prompt !== 'string' || prompt.trim() === '') throw refuse('spec.prompt must be a non-empty string');
  if (prompt.length > PROMPT_SPEC_LIMITS.promptChars) throw refuse(`spec.prompt must be at most ${PROMPT_SPEC_LIMITS.promptChars} characters`);
  for (const [name, value] of [['agent', agent], ['model', model], ['reasoning', reasoning]] as const) {
    if (typeof value !== 'string' || !VALUE.test(value)) throw refuse(`spec.${name} must match ${VALUE}`);
  }
  let timeoutS: number = PROMPT_SPEC_LIMITS.timeoutDefault;
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout)) throw refuse('spec.timeout_s must be a number');
    timeoutS = Math.min(PROMPT_SPEC_LIMITS.timeoutMax, Math.max(PROMPT_SPEC_LIMITS.timeoutMin, timeout));
  }
  return { prompt, agent: agent as string, model: model as string, reasoning: reasoning as string, timeout_s: timeoutS };
}

/** The agent's argv: the template's words with `{model}`, `{reasoning}`, `{agent}`, `{timeout_s}` filled in. Pure. */
export function agentArgv(template: string | readonly string[], spec: PromptSpec): string[] {
  const words = typeof template === 'string' ? template.trim().split(/\s+/).filter(Boolean) : [...template];
  if (words.length === 0) throw new TypeError('the prompt command is empty');
  const values: Record<string, string> = { model: spec.model, reasoning: spec.reasoning, agent: spec.agent, timeout_s: String(spec.timeout_s) };
  return words.map((w) => w.replace(/\{(model|reasoning|agent|timeout_s)\}/g, (_, k: string) => values[k]!));
}

export function createPromptRunner(options: RunnerOptions = {}): Runner {
  const root = path.resolve(options.root ?? process.cwd());
  const template = options.promptCommand ?? DEFAULT_PROMPT_COMMAND;
  return {
    kind: 'prompt',
    async run(ctx: ActionContext, definition) {
      const spec = parsePromptSpec(definition.spec);
      const [file, ...args] = agentArgv(template, spec);
      return runForContext(ctx, {
        file: file!,
        args,
        cwd: root,
        timeoutS: spec.timeout_s,
        stdin: spec.prompt,
        ...(options.env ? { env: options.env } : {}),
        ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
        ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      });
    },
  };
}
