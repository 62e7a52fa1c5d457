/**
 * Action configuration: zod 4 schemas for the shape, plus a semantic pass for
 * what a schema cannot say well (endpoint xor trigger, references between
 * sections, condition trees, placeholders, unknown keys as warnings).
 *
 * Both passes always run in full so that one call reports every issue.
 */
import { z } from 'zod';
import { MAX_ACTIONS, MAX_MAPPINGS_PER_TYPE, MAX_TEMPLATE_DEPTH, MAX_TYPES } from './limits.js';
import { ID_PATTERN, joinIndex, joinKey, parsePlaceholder, PLACEHOLDER, PROTOTYPE_KEYS, SINGLE_PLACEHOLDER } from './path.js';
import type { ActionConfig, DslIssue, ParseResult } from './types.js';
import { validateCondition } from './validate.js';
import { loadYaml } from './yaml.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const BUTTON_VARIANTS = ['primary', 'secondary', 'danger', 'success'] as const;

type RawRecord = Record<string, unknown>;

function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own, defined property (YAML/JSON cannot express an explicit undefined). */
function has(record: RawRecord, key: string): boolean {
  return Object.hasOwn(record, key) && record[key] !== undefined;
}

/** A service/action id, or exactly one well-formed `{{…}}` placeholder. */
export function isIdOrPlaceholder(value: string): boolean {
  if (ID_PATTERN.test(value)) return true;
  const single = SINGLE_PLACEHOLDER.exec(value);
  return single !== null && parsePlaceholder(single[1] as string) !== null;
}

const TemplateObject = z.custom<Record<string, unknown>>(isRecord, { params: { code: 'invalid_type', expected: 'an object' } });

const Id = z.string().superRefine((value, ctx) => {
  if (!isIdOrPlaceholder(value)) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value.slice(0, 140)}" must match ^[A-Za-z0-9_-]{1,128}$ or be a single {{…}} placeholder`,
      params: { code: 'invalid_id' },
    });
  }
});

export const EndpointSchema = z.object({
  path: z.string().min(1),
  method: z.enum(HTTP_METHODS),
  body: TemplateObject.optional(),
});

export const TriggerSchema = z.object({
  serviceId: Id,
  actionId: Id,
  input: TemplateObject.optional(),
});

export const UiSchema = z.object({
  label: z.string().min(1),
  variant: z.enum(BUTTON_VARIANTS),
  icon: z.string().min(1),
  confirmationMessage: z.string().min(1).optional(),
});

export const ActionSchema = z.object({
  endpoint: EndpointSchema.optional(),
  trigger: TriggerSchema.optional(),
  ui: UiSchema,
});

export const MappingSchema = z.object({
  action: z.string().min(1),
  // Condition trees are checked by validateCondition in the semantic pass.
  when: z.unknown().optional(),
});

export const TypeMappingSchema = z.object({
  actions: z.array(MappingSchema),
});

export const ActionConfigSchema = z.object({
  actions: z.record(z.string().min(1), ActionSchema),
  types: z.record(z.string().min(1), TypeMappingSchema),
  fallback: TypeMappingSchema.optional(),
});

// Known keys come from the schemas so the two cannot drift.
const KNOWN = {
  root: new Set(Object.keys(ActionConfigSchema.shape)),
  action: new Set(Object.keys(ActionSchema.shape)),
  endpoint: new Set(Object.keys(EndpointSchema.shape)),
  trigger: new Set(Object.keys(TriggerSchema.shape)),
  ui: new Set(Object.keys(UiSchema.shape)),
  typeMapping: new Set(Object.keys(TypeMappingSchema.shape)),
  // `conditions` is known so that it gets the legacy error rather than an unknown-key warning.
  mapping: new Set([...Object.keys(MappingSchema.shape), 'conditions']),
};

// ---------------------------------------------------------------------------
// zod issues → DslIssue

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    out = typeof part === 'number' ? joinIndex(out, part) : joinKey(out, String(part));
  }
  return out.length === 0 ? '$' : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const part of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    const key = String(part);
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as RawRecord)[key];
  }
  return current;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string "${value.slice(0, 60)}"`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function fromZod(issue: z.core.$ZodIssue, root: unknown): DslIssue {
  const path = formatPath(issue.path);
  const actual = valueAt(root, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (actual === undefined) return { path, code: 'required', message: 'required' };
      return { path, code: 'invalid_type', message: `expected ${issue.expected === 'record' ? 'object' : issue.expected}, got ${describe(actual)}` };
    case 'invalid_value':
      return { path, code: 'invalid_value', message: `expected one of ${issue.values.map(String).join(', ')}, got ${describe(actual)}` };
    case 'too_small':
      return { path, code: 'empty', message: 'must not be empty' };
    case 'invalid_key':
      return { path, code: 'invalid_key', message: 'keys must be non-empty strings' };
    case 'custom': {
      const params = (issue.params ?? {}) as { code?: string; expected?: string };
      const code = params.code ?? 'invalid';
      const message = code === 'invalid_type' ? `expected ${params.expected ?? 'another type'}, got ${describe(actual)}` : issue.message;
      return { path, code, message };
    }
    default:
      return { path, code: issue.code, message: issue.message };
  }
}

// ---------------------------------------------------------------------------
// Semantic pass over the raw input (defensive: it runs even where zod failed).

class Checker {
  readonly issues: DslIssue[] = [];
  private readonly actionIds: RawRecord | null;

  constructor(private readonly root: RawRecord) {
    this.actionIds = isRecord(root.actions) ? root.actions : null;
  }

  error(path: string, code: string, message: string): void {
    this.issues.push({ path, code, message });
  }

  warn(path: string, code: string, message: string): void {
    this.issues.push({ path, code, message, severity: 'warning' });
  }

  unknownKeys(record: RawRecord, path: string, known: ReadonlySet<string>, what: string): void {
    for (const key of Object.keys(record)) {
      if (!known.has(key)) this.warn(joinKey(path, key), 'unknown_key', `unknown key \`${key}\` in ${what} (ignored)`);
    }
  }

  reservedKey(key: string, path: string, what: string): boolean {
    if (!PROTOTYPE_KEYS.has(key)) return false;
    this.error(path, 'reserved_key', `\`${key}\` cannot be used as ${what}`);
    return true;
  }

  run(): void {
    const root = this.root;
    this.unknownKeys(root, '', KNOWN.root, 'the configuration');
    if (this.actionIds) {
      for (const id of Object.keys(this.actionIds)) this.action(id, this.actionIds[id]);
    }
    if (isRecord(root.types)) {
      for (const type of Object.keys(root.types)) {
        const path = joinKey('types', type);
        if (this.reservedKey(type, path, 'a type name')) continue;
        this.typeMapping(root.types[type], path);
      }
    }
    if (has(root, 'fallback')) this.typeMapping(root.fallback, 'fallback');
  }

  action(id: string, definition: unknown): void {
    const path = joinKey('actions', id);
    if (this.reservedKey(id, path, 'an action id')) return;
    if (!isRecord(definition)) return; // zod reports the type
    this.unknownKeys(definition, path, KNOWN.action, 'an action');
    const hasEndpoint = has(definition, 'endpoint');
    const hasTrigger = has(definition, 'trigger');
    if (hasEndpoint && hasTrigger) {
      this.error(path, 'endpoint_and_trigger', 'an action has either `endpoint` or `trigger`, not both');
    } else if (!hasEndpoint && !hasTrigger) {
      this.error(path, 'missing_endpoint_or_trigger', 'an action needs an `endpoint` or a `trigger`');
    }
    const endpoint = definition.endpoint;
    if (isRecord(endpoint)) {
      const at = joinKey(path, 'endpoint');
      this.unknownKeys(endpoint, at, KNOWN.endpoint, 'an endpoint');
      if (typeof endpoint.path === 'string') this.templateString(endpoint.path, joinKey(at, 'path'));
      if (isRecord(endpoint.body)) this.template(endpoint.body, joinKey(at, 'body'), 1, new Set());
    }
    const trigger = definition.trigger;
    if (isRecord(trigger)) {
      const at = joinKey(path, 'trigger');
      this.unknownKeys(trigger, at, KNOWN.trigger, 'a trigger');
      if (isRecord(trigger.input)) this.template(trigger.input, joinKey(at, 'input'), 1, new Set());
    }
    if (isRecord(definition.ui)) this.unknownKeys(definition.ui, joinKey(path, 'ui'), KNOWN.ui, '`ui`');
  }

  typeMapping(value: unknown, path: string): void {
    if (!isRecord(value)) return;
    this.unknownKeys(value, path, KNOWN.typeMapping, 'a type mapping');
    const list = value.actions;
    if (!Array.isArray(list)) return;
    for (let i = 0; i < list.length; i++) this.mapping(list[i], joinIndex(joinKey(path, 'actions'), i));
  }

  mapping(value: unknown, path: string): void {
    if (!isRecord(value)) return;
    this.unknownKeys(value, path, KNOWN.mapping, 'an action mapping');
    const name = value.action;
    // Own keys only: `toString` or `__proto__` must not pass as defined actions.
    if (typeof name === 'string' && name.length > 0 && this.actionIds && (!Object.hasOwn(this.actionIds, name) || PROTOTYPE_KEYS.has(name))) {
      this.error(joinKey(path, 'action'), 'unknown_action', `action "${name.slice(0, 140)}" is not defined in \`actions\``);
    }
    if (has(value, 'when')) {
      for (const issue of validateCondition(value.when)) {
        // validateCondition roots its paths at `when`; graft them onto the mapping.
        this.issues.push({ ...issue, path: `${path}.${issue.path}` });
      }
    }
    if (Object.hasOwn(value, 'conditions')) {
      this.error(
        joinKey(path, 'conditions'),
        'legacy_conditions',
        'string `conditions` are no longer supported; convert them to `when` trees with migrateLegacyConditions()',
      );
    }
  }

  templateString(text: string, path: string): void {
    let rest = text;
    for (const match of text.matchAll(PLACEHOLDER)) {
      if (parsePlaceholder(match[1] as string) === null) {
        this.error(path, 'invalid_placeholder', `placeholder ${match[0].slice(0, 140)} is not a dot path of [A-Za-z0-9_$-] segments without prototype keys`);
      }
      rest = rest.replace(match[0], '');
    }
    if (rest.includes('{{') || rest.includes('}}')) {
      this.warn(path, 'unmatched_braces', '`{{` or `}}` outside a placeholder is kept as literal text');
    }
  }

  template(value: unknown, path: string, depth: number, ancestors: Set<object>): void {
    if (typeof value === 'string') {
      this.templateString(value, path);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    if (depth > MAX_TEMPLATE_DEPTH) {
      this.error(path, 'max_depth', `templates nest at most ${MAX_TEMPLATE_DEPTH} levels`);
      return;
    }
    if (ancestors.has(value)) {
      this.error(path, 'cycle', 'the template refers to itself');
      return;
    }
    ancestors.add(value);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) this.template(value[i], joinIndex(path, i), depth + 1, ancestors);
    } else {
      for (const key of Object.keys(value)) this.template((value as RawRecord)[key], joinKey(path, key), depth + 1, ancestors);
    }
    ancestors.delete(value);
  }
}

/** Size limits, checked first so that huge inputs are rejected cheaply. */
function checkLimits(root: RawRecord): DslIssue[] {
  const issues: DslIssue[] = [];
  if (isRecord(root.actions) && Object.keys(root.actions).length > MAX_ACTIONS) {
    issues.push({ path: 'actions', code: 'too_many_actions', message: `at most ${MAX_ACTIONS} actions are allowed` });
  }
  if (isRecord(root.types)) {
    const types = Object.keys(root.types);
    if (types.length > MAX_TYPES) {
      issues.push({ path: 'types', code: 'too_many_types', message: `at most ${MAX_TYPES} types are allowed` });
    } else {
      for (const type of types) checkMappingCount(root.types[type], joinKey('types', type), issues);
    }
  }
  if (has(root, 'fallback')) checkMappingCount(root.fallback, 'fallback', issues);
  return issues;
}

function checkMappingCount(value: unknown, path: string, issues: DslIssue[]): void {
  if (isRecord(value) && Array.isArray(value.actions) && value.actions.length > MAX_MAPPINGS_PER_TYPE) {
    issues.push({ path: joinKey(path, 'actions'), code: 'too_many_mappings', message: `at most ${MAX_MAPPINGS_PER_TYPE} mappings per type are allowed` });
  }
}

function validateObject(root: unknown): ParseResult {
  if (!isRecord(root)) {
    return { config: null, issues: [{ path: '$', code: 'invalid_type', message: `the configuration must be an object, got ${describe(root)}` }] };
  }
  const limits = checkLimits(root);
  if (limits.length > 0) return { config: null, issues: limits };

  const parsed = ActionConfigSchema.safeParse(root);
  const issues = parsed.success ? [] : parsed.error.issues.map((issue) => fromZod(issue, root));
  const checker = new Checker(root);
  checker.run();
  issues.push(...checker.issues);

  const hasError = issues.some((issue) => issue.severity !== 'warning');
  const config = parsed.success && !hasError ? (parsed.data as ActionConfig) : null;
  return { config, issues };
}

/**
 * Parses and validates an action configuration given as YAML text or as an
 * already-parsed object. Reports every issue with its path; `config` is
 * non-null only when no issue is an error. Never throws.
 */
export function parseActionConfig(input: unknown): ParseResult {
  try {
    if (typeof input === 'string') {
      const loaded = loadYaml(input);
      if (loaded.issues.length > 0) return { config: null, issues: loaded.issues };
      return validateObject(loaded.value);
    }
    return validateObject(input);
  } catch (error) {
    // Exotic inputs only (proxies, throwing getters, stack exhaustion).
    const message = error instanceof Error ? error.message : 'unreadable configuration';
    return { config: null, issues: [{ path: '$', code: 'unreadable', message }] };
  }
}
