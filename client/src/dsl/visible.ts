/**
 * Which buttons to show for a subject, ready to render and call.
 */
import { compileCondition } from './compile.js';
import { interpolate, toText } from './interpolate.js';
import { getPath, ID_PATTERN, parsePlaceholder, SINGLE_PLACEHOLDER, stepInto } from './path.js';
import type { ActionConfig, ActionDefinition, ActionUi, CompiledCondition, TypeMapping, VisibleAction } from './types.js';

interface CompiledMapping {
  id: string;
  definition: ActionDefinition;
  test: CompiledCondition;
}

interface CompiledConfig {
  byType: Map<string, CompiledMapping[]>;
  fallback: CompiledMapping[] | null;
}

// Compiled conditions live as long as the config object; configs are treated as immutable.
const cache = new WeakMap<ActionConfig, CompiledConfig>();

function compileMappings(config: ActionConfig, mapping: TypeMapping | undefined): CompiledMapping[] {
  const out: CompiledMapping[] = [];
  const list = mapping?.actions;
  if (!Array.isArray(list)) return out;
  for (const item of list) {
    const id = item.action;
    // Own keys only, so `toString` never resolves to Object.prototype.toString.
    if (typeof id !== 'string' || !Object.hasOwn(config.actions, id)) continue;
    const definition = config.actions[id];
    if (definition === undefined) continue;
    out.push({ id, definition, test: compileCondition(item.when) });
  }
  return out;
}

function mappingsFor(config: ActionConfig, type: unknown): CompiledMapping[] {
  let entry = cache.get(config);
  if (entry === undefined) {
    entry = { byType: new Map(), fallback: null };
    cache.set(config, entry);
  }
  if (typeof type === 'string' && Object.hasOwn(config.types, type)) {
    let compiled = entry.byType.get(type);
    if (compiled === undefined) {
      compiled = compileMappings(config, config.types[type]);
      entry.byType.set(type, compiled);
    }
    return compiled;
  }
  entry.fallback ??= compileMappings(config, config.fallback);
  return entry.fallback;
}

function resolvePlaceholder(inner: string, subject: unknown): unknown {
  const segments = parsePlaceholder(inner);
  return segments === null ? undefined : getPath(subject, segments);
}

const PATH_TOKENS = /\{\{([^{}]*)\}\}|\{actionId\}/g;

/** `{actionId}` → subject.id and `{{…}}` → its value, each URL-encoded as one path segment. */
export function expandEndpointPath(path: string, subject: unknown): string {
  return path.replace(PATH_TOKENS, (_match, inner: string | undefined) => {
    const value = inner === undefined ? stepInto(subject, 'id') : resolvePlaceholder(inner, subject);
    return encodeURIComponent(toText(value));
  });
}

/** A literal id, or the value of a single placeholder; null when the result is not a valid id. */
function resolveId(template: string, subject: unknown): string | null {
  if (ID_PATTERN.test(template)) return template;
  const single = SINGLE_PLACEHOLDER.exec(template);
  if (single === null) return null;
  const value = toText(resolvePlaceholder(single[1] as string, subject));
  return ID_PATTERN.test(value) ? value : null;
}

function copyUi(ui: ActionUi): ActionUi {
  const out: ActionUi = { label: ui.label, variant: ui.variant, icon: ui.icon };
  if (ui.confirmationMessage !== undefined) out.confirmationMessage = ui.confirmationMessage;
  return out;
}

function buildButton(id: string, definition: ActionDefinition, subject: unknown): VisibleAction | null {
  const ui = copyUi(definition.ui);
  if (definition.endpoint !== undefined) {
    const { path, method, body } = definition.endpoint;
    const endpoint: NonNullable<VisibleAction['endpoint']> = { path: expandEndpointPath(path, subject), method };
    if (body !== undefined) endpoint.body = interpolate(body, subject) as Record<string, unknown>;
    return { id, ui, endpoint };
  }
  if (definition.trigger !== undefined) {
    const { input } = definition.trigger;
    const serviceId = resolveId(definition.trigger.serviceId, subject);
    const actionId = resolveId(definition.trigger.actionId, subject);
    // A button that cannot name a valid target would only fail when clicked.
    if (serviceId === null || actionId === null) return null;
    const trigger: NonNullable<VisibleAction['trigger']> = { serviceId, actionId };
    if (input !== undefined) trigger.input = interpolate(input, subject, { typed: true }) as Record<string, unknown>;
    return { id, ui, trigger };
  }
  return null;
}

/**
 * The buttons for `subject` of the given type, in mapping order. A type that is
 * not an own key of `config.types` uses `config.fallback` (or shows nothing).
 * Never throws.
 */
export function visibleActions(config: ActionConfig, type: string, subject: unknown): VisibleAction[] {
  try {
    if (typeof config !== 'object' || config === null || typeof config.actions !== 'object' || config.actions === null) return [];
    if (typeof config.types !== 'object' || config.types === null) return [];
    const out: VisibleAction[] = [];
    for (const mapping of mappingsFor(config, type)) {
      if (!mapping.test(subject)) continue;
      try {
        const button = buildButton(mapping.id, mapping.definition, subject);
        if (button !== null) out.push(button);
      } catch {
        // Skip a button whose definition cannot be read rather than hide all of them.
      }
    }
    return out;
  } catch {
    return [];
  }
}
