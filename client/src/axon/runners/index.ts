/** Built-in runners for registry definitions. Node only. */
import type { BuiltinRunner, Runner, RunnerOptions } from '../axon.js';
import { createCommandRunner } from './command.js';
import { createPromptRunner } from './prompt.js';

export { createCommandRunner, parseCommandSpec, runtimeCwd, shellAction } from './command.js';
export { agentArgv, createPromptRunner, DEFAULT_PROMPT_COMMAND, parsePromptSpec } from './prompt.js';
export { resolveUnderRoot } from './cwd.js';
export { groupAlive, PROCESS_DEFAULTS, runProcess } from './process.js';

export function createBuiltinRunner(kind: BuiltinRunner, options: RunnerOptions): Runner {
  if (kind === 'command') return createCommandRunner(options);
  if (kind === 'prompt') return createPromptRunner(options);
  throw new TypeError(`unknown runner ${String(kind)}: expected command or prompt`);
}
