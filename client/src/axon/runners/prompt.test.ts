import { describe, expect, it } from 'vitest';
import { agentArgv, DEFAULT_PROMPT_COMMAND, parsePromptSpec } from './prompt.js';
import { parseCommandSpec } from './command.js';

describe('agentArgv', () => {
  const spec = parsePromptSpec({ prompt: 'hello', model: 'gpt-5.3-codex', reasoning: 'high', timeout_s: 30 });
  it('fills the default template word by word (no shell)', () => {
    expect(agentArgv(DEFAULT_PROMPT_COMMAND, spec)).toEqual(['codex', 'exec', '--model', 'gpt-5.3-codex', '-c', 'reasoning=high']);
  });
  it('takes argv arrays and keeps spaces inside words', () => {
    expect(agentArgv(['/opt/my agent', '--m={model}', '{timeout_s}'], spec)).toEqual(['/opt/my agent', '--m=gpt-5.3-codex', '30']);
  });
});

describe('spec checks on the Axon', () => {
  it('defaults and clamps a prompt spec, refuses odd values', () => {
    expect(parsePromptSpec({ prompt: 'p', model: 'm', timeout_s: 9999 })).toEqual({ prompt: 'p', agent: 'codex', model: 'm', reasoning: 'medium', timeout_s: 300 });
    expect(() => parsePromptSpec({ prompt: 'p', model: '--yolo' })).toThrow(/model/);
    expect(() => parsePromptSpec({ prompt: '', model: 'm' })).toThrow(/prompt/);
  });
  it('defaults and clamps a command spec', () => {
    expect(parseCommandSpec({ cmd: 'echo hi', timeout_s: 0 })).toEqual({ cmd: 'echo hi', shell: 'bash', cwd: '.', timeout_s: 1 });
    expect(() => parseCommandSpec({ cmd: 'x', shell: 'zsh' })).toThrow(/bash/);
    expect(() => parseCommandSpec({})).toThrow(/cmd/);
  });
});
