// Validation and normalisation of action definitions, shared by GraphQL and REST.
// Rules run in a fixed order and the first failure wins, so both transports
// answer the same code for the same input. Pure: the filesystem check for `cwd`
// is injected.
import { z } from 'zod';
import { fail, ok, type Result } from '../errors.js';
import { resolveCwd, type RealPath, realPathOfExistingPrefix } from './cwd.js';

export const ACTION_KINDS = ['prompt', 'command'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];
export const REASONING_LEVELS = ['low', 'medium', 'high', 'xhigh'] as const;

export interface PromptSpec {
  prompt: string;
  agent: string;
  model: string;
  reasoning: (typeof REASONING_LEVELS)[number];
  timeout_s: number;
}
export interface CommandSpec {
  cmd: string;
  shell: 'bash';
  cwd: string;
  timeout_s: number;
}
export type ActionSpec = PromptSpec | CommandSpec;

export const LIMITS = {
  titleChars: 200,
  promptChars: 200_000,
  cmdChars: 20_000,
  nameChars: 200,
  cwdChars: 4_096,
  prompt: { timeoutDefault: 45, timeoutMin: 5, timeoutMax: 300 },
  command: { timeoutDefault: 60, timeoutMin: 1, timeoutMax: 3_600 },
} as const;

export interface ValidationContext {
  /** Directory that every command `cwd` must stay inside. */
  repoRoot: string;
  /** Default `model` of prompt specs. */
  defaultModel: string;
  realPath?: RealPath;
}

export interface NewDefinition {
  title: string;
  kind: ActionKind;
  spec: ActionSpec;
  enabled: boolean;
}

export interface DefinitionPatch {
  title?: string;
  spec?: ActionSpec;
  enabled?: boolean;
}

export interface StoredDefinition {
  kind: ActionKind;
  spec: Record<string, unknown>;
}

const charCount = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** A string Postgres can store (no NUL, no lone surrogate) with a readable reason when not. */
const storableString = (label: string) =>
  z
    .string({ error: `${label} must be a string` })
    .refine((s) => !s.includes('\u0000'), `${label} must not contain NUL characters`)
    .refine((s) => s.isWellFormed(), `${label} must be valid Unicode text`);

const nonBlank = (label: string, max: number) =>
  storableString(label)
    .refine((s) => s.trim() !== '', `${label} must not be blank`)
    .refine((s) => charCount(s) <= max, `${label} must be at most ${max} characters`);

const trimmedName = (label: string) =>
  storableString(label)
    .transform((s) => s.trim())
    .refine((s) => s !== '', `${label} must not be blank`)
    .refine((s) => charCount(s) <= LIMITS.nameChars, `${label} must be at most ${LIMITS.nameChars} characters`);

const schemas = {
  title: storableString('title')
    .transform((s) => s.trim())
    .refine((s) => s !== '', 'title must not be blank')
    .refine((s) => charCount(s) <= LIMITS.titleChars, `title must be at most ${LIMITS.titleChars} characters after trimming`),
  kind: storableString('kind')
    .transform((s) => s.trim())
    .pipe(z.enum(ACTION_KINDS, { error: 'kind must be "prompt" or "command"' })),
  spec: z.record(z.string(), z.unknown(), { error: 'spec must be a JSON object' }),
  enabled: z.boolean({ error: 'enabled must be a boolean' }),
  prompt: nonBlank('prompt', LIMITS.promptChars),
  agent: trimmedName('agent'),
  model: trimmedName('model'),
  reasoning: storableString('reasoning')
    .transform((s) => s.trim())
    .pipe(z.enum(REASONING_LEVELS, { error: 'reasoning must be one of low, medium, high, xhigh' })),
  timeout: z.number({ error: 'timeout_s must be a number' }).refine(Number.isFinite, 'timeout_s must be a finite number'),
  cmd: nonBlank('cmd', LIMITS.cmdChars),
  shell: storableString('shell')
    .transform((s) => s.trim())
    .pipe(z.literal('bash', { error: 'shell must be "bash"' })),
  cwd: storableString('cwd').refine((s) => s.length <= LIMITS.cwdChars, `cwd must be at most ${LIMITS.cwdChars} characters`),
};

function check<S extends z.ZodType>(schema: S, value: unknown, code: string, field: string): Result<z.output<S>> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return ok(parsed.data);
  return fail(code, field, parsed.error.issues[0]?.message ?? `${field} is invalid`);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

/** Normalises a spec of `kind`: defaults applied, unknown keys dropped. `null` means "use the default". */
export function normaliseSpec(kind: ActionKind, raw: Record<string, unknown>, ctx: ValidationContext): Result<ActionSpec> {
  const given = (key: string): unknown => (Object.hasOwn(raw, key) && raw[key] !== null ? raw[key] : undefined);
  if (kind === 'prompt') {
    const prompt = check(schemas.prompt, given('prompt'), 'invalid_prompt', 'spec.prompt');
    if (!prompt.ok) return given('prompt') === undefined ? fail('invalid_prompt', 'spec.prompt', 'prompt is required') : prompt;
    const agent = check(schemas.agent, given('agent') ?? 'codex', 'invalid_agent', 'spec.agent');
    if (!agent.ok) return agent;
    const model = check(schemas.model, given('model') ?? ctx.defaultModel, 'invalid_model', 'spec.model');
    if (!model.ok) return model;
    const reasoning = check(schemas.reasoning, given('reasoning') ?? 'medium', 'invalid_reasoning', 'spec.reasoning');
    if (!reasoning.ok) return reasoning;
    const { timeoutDefault, timeoutMin, timeoutMax } = LIMITS.prompt;
    const timeout = check(schemas.timeout, given('timeout_s') ?? timeoutDefault, 'invalid_timeout_s', 'spec.timeout_s');
    if (!timeout.ok) return timeout;
    return ok({
      agent: agent.value,
      model: model.value,
      reasoning: reasoning.value,
      timeout_s: clamp(timeout.value, timeoutMin, timeoutMax),
      prompt: prompt.value,
    });
  }
  const cmd = check(schemas.cmd, given('cmd'), 'invalid_cmd', 'spec.cmd');
  if (!cmd.ok) return given('cmd') === undefined ? fail('invalid_cmd', 'spec.cmd', 'cmd is required') : cmd;
  const shell = check(schemas.shell, given('shell') ?? 'bash', 'invalid_shell', 'spec.shell');
  if (!shell.ok) return shell;
  const cwdText = check(schemas.cwd, given('cwd') ?? '.', 'invalid_cwd', 'spec.cwd');
  if (!cwdText.ok) return cwdText;
  const cwd = resolveCwd(cwdText.value, ctx.repoRoot, ctx.realPath ?? realPathOfExistingPrefix);
  if (!cwd.ok) return fail(cwd.code, 'spec.cwd', cwd.message);
  const { timeoutDefault, timeoutMin, timeoutMax } = LIMITS.command;
  const timeout = check(schemas.timeout, given('timeout_s') ?? timeoutDefault, 'invalid_timeout_s', 'spec.timeout_s');
  if (!timeout.ok) return timeout;
  return ok({ shell: shell.value, cwd: cwd.relative, timeout_s: clamp(timeout.value, timeoutMin, timeoutMax), cmd: cmd.value });
}

/** Validates a create request. Order: body, title, kind, spec object, enabled, spec fields. */
export function validateNewDefinition(body: unknown, ctx: ValidationContext): Result<NewDefinition> {
  if (!isPlainObject(body)) return fail('invalid_body', null, 'body must be a JSON object');
  const title = check(schemas.title, body.title, 'invalid_title', 'title');
  if (!title.ok) return title;
  const kind = check(schemas.kind, body.kind, 'invalid_kind', 'kind');
  if (!kind.ok) return kind;
  const spec = check(schemas.spec, body.spec, 'invalid_spec', 'spec');
  if (!spec.ok) return spec;
  const enabled = body.enabled === undefined ? ok(true) : check(schemas.enabled, body.enabled, 'invalid_enabled', 'enabled');
  if (!enabled.ok) return enabled;
  const normalised = normaliseSpec(kind.value, spec.value, ctx);
  if (!normalised.ok) return normalised;
  return ok({ title: title.value, kind: kind.value, spec: normalised.value, enabled: enabled.value });
}

const UPDATABLE = ['title', 'kind', 'spec', 'enabled'] as const;
const SPEC_KEYS: Record<ActionKind, readonly string[]> = {
  prompt: ['prompt', 'agent', 'model', 'reasoning', 'timeout_s'],
  command: ['cmd', 'shell', 'cwd', 'timeout_s'],
};

/**
 * Validates a partial update against the stored definition. `spec` is a patch
 * merged onto the stored spec (a key set to null returns to its default) and
 * then normalised again.
 */
export function validateDefinitionPatch(body: unknown, stored: StoredDefinition, ctx: ValidationContext): Result<DefinitionPatch> {
  if (!isPlainObject(body)) return fail('invalid_body', null, 'body must be a JSON object');
  if (!UPDATABLE.some((key) => body[key] !== undefined)) {
    return fail('no_fields', null, `nothing to update: send any of ${UPDATABLE.join(', ')}`);
  }
  const patch: DefinitionPatch = {};
  if (body.title !== undefined) {
    const title = check(schemas.title, body.title, 'invalid_title', 'title');
    if (!title.ok) return title;
    patch.title = title.value;
  }
  if (body.kind !== undefined) {
    const kind = check(schemas.kind, body.kind, 'invalid_kind', 'kind');
    if (!kind.ok) return kind;
    if (kind.value !== stored.kind) {
      return fail('kind_change_not_allowed', 'kind', `kind cannot change from ${stored.kind} to ${kind.value}; create a new definition`);
    }
  }
  let specPatch: Record<string, unknown> | undefined;
  if (body.spec !== undefined) {
    const spec = check(schemas.spec, body.spec, 'invalid_spec', 'spec');
    if (!spec.ok) return spec;
    specPatch = spec.value;
  }
  if (body.enabled !== undefined) {
    const enabled = check(schemas.enabled, body.enabled, 'invalid_enabled', 'enabled');
    if (!enabled.ok) return enabled;
    patch.enabled = enabled.value;
  }
  if (specPatch) {
    // Only the kind's own keys are merged: unknown keys are dropped anyway, and
    // skipping them keeps `__proto__` and friends out of the merge.
    const merged: Record<string, unknown> = {};
    for (const key of SPEC_KEYS[stored.kind]) {
      const value = Object.hasOwn(specPatch, key) ? specPatch[key] : stored.spec[key];
      if (value !== null && value !== undefined) merged[key] = value;
    }
    const normalised = normaliseSpec(stored.kind, merged, ctx);
    if (!normalised.ok) return normalised;
    patch.spec = normalised.value;
  }
  return ok(patch);
}
