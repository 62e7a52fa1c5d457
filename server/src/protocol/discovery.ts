/**
 * Discovery snapshots (`{prefix}/discovery/{serviceId}`): validation and normalisation
 * of the Synapse discovery v1 shape (strict) and the MVP shape (compatible), per
 * ARCHITECTURE Appendix A. See docs/protocol.md for the rules, their order and the
 * error codes. Pure: no I/O, no clock.
 */
import { isServiceId, SERVICE_ID_PATTERN } from './ids.js';
import {
  codePointLength,
  hasOwn,
  isPlainObject,
  jsonClone,
  parseJsonObjectBytes,
  utf8Length,
  type JsonObject,
  findUnstorableString,
  UNSTORABLE_MESSAGE,
} from './json.js';
import { err, joinPath, ok, type Result } from './result.js';

export const SERVICE_STATUSES = ['online', 'warning', 'error', 'offline'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

export const RUNNERS = ['command', 'prompt'] as const;
export type Runner = (typeof RUNNERS)[number];

export const COMPONENT_TYPES = ['stat', 'gauge', 'status_indicator', 'log_stream', 'action_group', 'link'] as const;
export type ComponentType = (typeof COMPONENT_TYPES)[number];

export type SnapshotShape = 'v1' | 'mvp';

/** Limits applied to every snapshot (both shapes). */
export const DISCOVERY_LIMITS = {
  /** Payload size over MQTT (the default of `parseDiscoveryBytes`). */
  maxBytesMqtt: 256 * 1024,
  /** Payload size over HTTP. */
  maxBytesHttp: 1024 * 1024,
  /** Distinct actions per service. */
  maxActions: 256,
  /** v1 `components` entries, or MVP `widgets` entries. */
  maxComponents: 256,
  /** v1 `layout.root` sections. */
  maxSections: 256,
  /** v1 children per section. */
  maxChildren: 256,
  /** `tags` entries. */
  maxTags: 64,
  /** v1 `log_stream.lines` entries. */
  maxLogLines: 1000,
  /** Labels, names, groups, titles, tags, units: characters (Unicode code points). */
  maxLabelChars: 200,
  /** Action `style`: characters. */
  maxStyleChars: 64,
  /** Any other string: UTF-8 bytes. */
  maxStringBytes: 4 * 1024,
  /** `markdown_docs`: UTF-8 bytes. */
  maxMarkdownDocsBytes: 64 * 1024,
  /** `ttl` upper bound in seconds (one day). */
  maxTtlSeconds: 86_400,
} as const;

export type DiscoveryErrorCode =
  | 'too_large'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_object'
  | 'unauthorized'
  | 'invalid_api_version'
  | 'mixed_shape'
  | 'unknown_field'
  | 'invalid_id'
  | 'id_mismatch'
  | 'invalid_status'
  | 'invalid_ttl'
  | 'invalid_field'
  | 'invalid_components'
  | 'invalid_action'
  | 'duplicate_action'
  | 'invalid_layout'
  | 'unknown_component'
  | 'limit_exceeded';

export type DiscoveryResult<T> = Result<T, DiscoveryErrorCode>;

export interface NormalisedAction {
  readonly id: string;
  readonly label: string;
  readonly style: string | null;
  /** `true`/`false`, a confirmation prompt, or `null` when not given. */
  readonly confirm: boolean | string | null;
}

export interface NormalisedService {
  readonly id: string;
  /** `name`, or the id when absent. */
  readonly name: string;
  readonly status: ServiceStatus;
  /** Seconds. */
  readonly ttl: number;
  readonly shape: SnapshotShape;
  /** The service's action catalogue, in declaration order. */
  readonly actions: readonly NormalisedAction[];
  /** Registry definition kinds this Axon executes (deduplicated, in order). */
  readonly runners: readonly Runner[];
  /** The snapshot to store: the payload as JSON, without `auth_token`. */
  readonly snapshot: Record<string, unknown>;
  readonly group?: string;
  readonly tags?: readonly string[];
  readonly icon?: string;
  readonly url?: string;
  readonly message?: string;
  readonly description?: string;
  readonly markdownDocs?: string;
}

export interface DiscoveryOptions {
  /** The `{serviceId}` suffix of the topic (or of the HTTP route) the snapshot came on. */
  readonly topicServiceId: string;
  /** When set (non-empty), every snapshot must carry this `auth_token`. */
  readonly legacyAxonToken?: string;
}

export interface DiscoveryBytesOptions extends DiscoveryOptions {
  /** Payload limit in bytes; default 256 KiB (MQTT). Use `DISCOVERY_LIMITS.maxBytesHttp` over HTTP. */
  readonly maxBytes?: number;
}

type Fail = { readonly ok: false; readonly error: { code: DiscoveryErrorCode; path: string; message: string } };
const fail = (code: DiscoveryErrorCode, path: string, message: string): Fail => err(code, path, message);

const COMMON_FIELDS = [
  'api_version',
  'id',
  'status',
  'ttl',
  'auth_token',
  'name',
  'group',
  'tags',
  'icon',
  'url',
  'message',
  'description',
  'markdown_docs',
  'runners',
] as const;
const V1_TOP_FIELDS: ReadonlySet<string> = new Set([...COMMON_FIELDS, 'layout', 'components']);

/** Allowed fields per v1 component type (besides `id` and `type`). */
export const COMPONENT_FIELDS: Readonly<Record<ComponentType, readonly string[]>> = {
  stat: ['label', 'value', 'unit'],
  gauge: ['label', 'value', 'min', 'max', 'unit'],
  status_indicator: ['label', 'status'],
  log_stream: ['label', 'lines'],
  link: ['label', 'url'],
  action_group: ['label', 'items'],
};
const ACTION_ITEM_FIELDS: ReadonlySet<string> = new Set(['action_id', 'label', 'style', 'confirm']);
const LAYOUT_FIELDS: ReadonlySet<string> = new Set(['type', 'root']);
const SECTION_FIELDS: ReadonlySet<string> = new Set(['type', 'title', 'children']);

const q = (v: unknown): string => {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : String(v);
};

/** Constant-time string comparison (time depends only on the longer length). */
function constantTimeEqual(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function isHttpUrl(s: string): boolean {
  if (!/^https?:\/\//i.test(s)) return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

interface Ctx {
  readonly shape: SnapshotShape;
}

/** Optional value: absent → undefined; null → absent in the MVP shape, an error in v1. */
function optional(ctx: Ctx, obj: JsonObject, key: string): { present: boolean; value: unknown } {
  if (!hasOwn(obj, key)) return { present: false, value: undefined };
  const value = obj[key];
  if (value === undefined || (value === null && ctx.shape === 'mvp')) return { present: false, value: undefined };
  return { present: true, value };
}

type StringKind = 'label' | 'text' | 'markdown' | 'style';

function checkString(value: unknown, kind: StringKind): string | null {
  if (typeof value !== 'string') return 'must be a string';
  switch (kind) {
    case 'label':
      return codePointLength(value) > DISCOVERY_LIMITS.maxLabelChars
        ? `must be at most ${DISCOVERY_LIMITS.maxLabelChars} characters`
        : null;
    case 'style':
      return codePointLength(value) > DISCOVERY_LIMITS.maxStyleChars
        ? `must be at most ${DISCOVERY_LIMITS.maxStyleChars} characters`
        : null;
    case 'markdown':
      return utf8Length(value) > DISCOVERY_LIMITS.maxMarkdownDocsBytes
        ? `must be at most ${DISCOVERY_LIMITS.maxMarkdownDocsBytes} bytes`
        : null;
    case 'text':
      return utf8Length(value) > DISCOVERY_LIMITS.maxStringBytes
        ? `must be at most ${DISCOVERY_LIMITS.maxStringBytes} bytes`
        : null;
  }
}

function firstUnknownField(obj: JsonObject, allowed: ReadonlySet<string>, path: string): Fail | null {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) return fail('unknown_field', joinPath(path, key), `unknown field ${q(key)}`);
  }
  return null;
}

interface Metadata {
  name?: string;
  group?: string;
  tags?: string[];
  icon?: string;
  url?: string;
  message?: string;
  description?: string;
  markdownDocs?: string;
  runners: Runner[];
}

const METADATA_STRINGS: ReadonlyArray<readonly [string, keyof Metadata, StringKind]> = [
  ['name', 'name', 'label'],
  ['group', 'group', 'label'],
  ['tags', 'tags', 'label'],
  ['icon', 'icon', 'text'],
  ['url', 'url', 'text'],
  ['message', 'message', 'text'],
  ['description', 'description', 'text'],
  ['markdown_docs', 'markdownDocs', 'markdown'],
];

function checkMetadata(ctx: Ctx, obj: JsonObject, tokenChecked: boolean): Result<Metadata, DiscoveryErrorCode> {
  if (!tokenChecked) {
    const token = optional(ctx, obj, 'auth_token');
    if (token.present) {
      const problem = checkString(token.value, 'text');
      if (problem) return fail('invalid_field', 'auth_token', `auth_token ${problem}`);
    }
  }
  const meta: Metadata = { runners: [] };
  for (const [key, prop, kind] of METADATA_STRINGS) {
    const field = optional(ctx, obj, key);
    if (!field.present) continue;
    if (key === 'tags') {
      if (!Array.isArray(field.value)) return fail('invalid_field', 'tags', 'tags must be an array of strings');
      if (field.value.length > DISCOVERY_LIMITS.maxTags) {
        return fail('limit_exceeded', 'tags', `at most ${DISCOVERY_LIMITS.maxTags} tags`);
      }
      const tags: string[] = [];
      for (const [i, tag] of field.value.entries()) {
        const problem = checkString(tag, 'label') ?? (tag === '' ? 'must not be empty' : null);
        if (problem) return fail('invalid_field', joinPath('tags', i), `tag ${problem}`);
        tags.push(tag as string);
      }
      meta.tags = tags;
      continue;
    }
    const problem = checkString(field.value, kind);
    if (problem) return fail('invalid_field', key, `${key} ${problem}`);
    const value = field.value as string;
    if (key === 'url' && value !== '' && !isHttpUrl(value)) {
      return fail('invalid_field', 'url', 'url must be an absolute http(s) URL');
    }
    (meta as unknown as Record<string, unknown>)[prop] = value;
  }
  const runners = optional(ctx, obj, 'runners');
  if (runners.present) {
    if (!Array.isArray(runners.value)) return fail('invalid_field', 'runners', 'runners must be an array');
    for (const [i, runner] of runners.value.entries()) {
      if (runner !== 'command' && runner !== 'prompt') {
        return fail('invalid_field', joinPath('runners', i), `runner must be "command" or "prompt", got ${q(runner)}`);
      }
      if (!meta.runners.includes(runner)) meta.runners.push(runner);
    }
  }
  return ok(meta);
}

/** Shared action-entry checks: `style` and `confirm`. */
function checkStyleConfirm(
  ctx: Ctx,
  item: JsonObject,
  path: string,
  confirmKey: 'confirm' | 'require_confirmation',
): Result<{ style: string | null; confirm: boolean | string | null }, DiscoveryErrorCode> {
  let style: string | null = null;
  const s = optional(ctx, item, 'style');
  if (s.present) {
    const problem = checkString(s.value, 'style');
    if (problem) return fail('invalid_action', joinPath(path, 'style'), `style ${problem}`);
    style = s.value as string;
  }
  let confirm: boolean | string | null = null;
  const c = optional(ctx, item, confirmKey);
  if (c.present) {
    if (typeof c.value !== 'boolean') {
      const problem = checkString(c.value, 'text');
      if (problem) {
        return fail('invalid_action', joinPath(path, confirmKey), `${confirmKey} must be a boolean or a string`);
      }
    }
    confirm = c.value as boolean | string;
  }
  return ok({ style, confirm });
}

function checkLabel(value: unknown, path: string, code: DiscoveryErrorCode): Fail | null {
  const problem = checkString(value, 'label');
  return problem ? fail(code, path, `label ${problem}`) : null;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Type-specific fields of a v1 component (unknown fields were rejected before). */
function checkComponentFields(
  type: ComponentType,
  comp: JsonObject,
  path: string,
  ctx: Ctx,
): Fail | null {
  const label = optional(ctx, comp, 'label');
  if (label.present) {
    const bad = checkLabel(label.value, joinPath(path, 'label'), 'invalid_field');
    if (bad) return bad;
  }
  const unit = optional(ctx, comp, 'unit');
  if (unit.present) {
    const problem = checkString(unit.value, 'label');
    if (problem) return fail('invalid_field', joinPath(path, 'unit'), `unit ${problem}`);
  }
  switch (type) {
    case 'stat': {
      if (hasOwn(comp, 'value')) {
        const v = comp.value;
        const okType = v === null || typeof v === 'boolean' || isFiniteNumber(v) || typeof v === 'string';
        if (!okType || (typeof v === 'string' && checkString(v, 'text'))) {
          return fail('invalid_field', joinPath(path, 'value'), 'stat value must be a string, number, boolean or null');
        }
      }
      return null;
    }
    case 'gauge': {
      if (hasOwn(comp, 'value') && comp.value !== null && !isFiniteNumber(comp.value)) {
        return fail('invalid_field', joinPath(path, 'value'), 'gauge value must be a number or null');
      }
      for (const key of ['min', 'max'] as const) {
        if (hasOwn(comp, key) && !isFiniteNumber(comp[key])) {
          return fail('invalid_field', joinPath(path, key), `gauge ${key} must be a number`);
        }
      }
      if (isFiniteNumber(comp.min) && isFiniteNumber(comp.max) && comp.min >= comp.max) {
        return fail('invalid_field', joinPath(path, 'max'), 'gauge max must be greater than min');
      }
      return null;
    }
    case 'status_indicator': {
      if (hasOwn(comp, 'status') && !(SERVICE_STATUSES as readonly unknown[]).includes(comp.status)) {
        return fail('invalid_field', joinPath(path, 'status'), 'status must be online, warning, error or offline');
      }
      return null;
    }
    case 'log_stream': {
      if (hasOwn(comp, 'lines')) {
        const lines = comp.lines;
        if (!Array.isArray(lines)) return fail('invalid_field', joinPath(path, 'lines'), 'lines must be an array of strings');
        if (lines.length > DISCOVERY_LIMITS.maxLogLines) {
          return fail('limit_exceeded', joinPath(path, 'lines'), `at most ${DISCOVERY_LIMITS.maxLogLines} lines`);
        }
        for (const [i, line] of lines.entries()) {
          const problem = checkString(line, 'text');
          if (problem) return fail('invalid_field', joinPath(joinPath(path, 'lines'), i), `line ${problem}`);
        }
      }
      return null;
    }
    case 'link': {
      const url = comp.url;
      if (typeof url !== 'string' || checkString(url, 'text') || !isHttpUrl(url)) {
        return fail('invalid_field', joinPath(path, 'url'), 'link url is required: an absolute http(s) URL');
      }
      return null;
    }
    case 'action_group':
      return null; // items are checked by the caller
  }
}

function checkV1Components(
  ctx: Ctx,
  obj: JsonObject,
): Result<{ ids: ReadonlySet<string>; actions: NormalisedAction[] }, DiscoveryErrorCode> {
  const field = optional(ctx, obj, 'components');
  const ids = new Set<string>();
  const actions: NormalisedAction[] = [];
  if (!field.present) return ok({ ids, actions });
  if (!isPlainObject(field.value)) {
    return fail('invalid_components', 'components', `components must be an object keyed by component id, got ${q(field.value)}`);
  }
  const components = field.value;
  const keys = Object.keys(components);
  if (keys.length > DISCOVERY_LIMITS.maxComponents) {
    return fail('limit_exceeded', 'components', `at most ${DISCOVERY_LIMITS.maxComponents} components`);
  }
  const seenActions = new Set<string>();
  for (const key of keys) {
    const path = joinPath('components', key);
    if (!SERVICE_ID_PATTERN.test(key)) {
      return fail('invalid_components', path, `component id ${q(key)} must match ${SERVICE_ID_PATTERN.source}`);
    }
    const comp = components[key];
    if (!isPlainObject(comp)) return fail('invalid_components', path, `component must be an object, got ${q(comp)}`);
    if (comp.id !== key) {
      return fail('invalid_components', joinPath(path, 'id'), `component id must equal its key ${q(key)}`);
    }
    const type = comp.type;
    if (!(COMPONENT_TYPES as readonly unknown[]).includes(type)) {
      return fail('invalid_components', joinPath(path, 'type'), `component type must be one of ${COMPONENT_TYPES.join(', ')}, got ${q(type)}`);
    }
    const ctype = type as ComponentType;
    if (ctype !== 'action_group' && hasOwn(comp, 'action_id')) {
      return fail('invalid_action', joinPath(path, 'action_id'), 'action_id is only allowed in action_group items');
    }
    const unknown = firstUnknownField(comp, new Set(['id', 'type', ...COMPONENT_FIELDS[ctype]]), path);
    if (unknown) return unknown;
    const bad = checkComponentFields(ctype, comp, path, ctx);
    if (bad) return bad;
    ids.add(key);
    if (ctype !== 'action_group') continue;

    const items = comp.items;
    const itemsPath = joinPath(path, 'items');
    if (!Array.isArray(items)) return fail('invalid_components', itemsPath, `action_group items must be an array, got ${q(items)}`);
    for (const [i, item] of items.entries()) {
      const itemPath = joinPath(itemsPath, i);
      if (!isPlainObject(item)) return fail('invalid_action', itemPath, `action item must be an object, got ${q(item)}`);
      const unknownItem = firstUnknownField(item, ACTION_ITEM_FIELDS, itemPath);
      if (unknownItem) return unknownItem;
      const actionId = item.action_id;
      if (typeof actionId !== 'string' || !SERVICE_ID_PATTERN.test(actionId)) {
        return fail('invalid_action', joinPath(itemPath, 'action_id'), `action_id must match ${SERVICE_ID_PATTERN.source}, got ${q(actionId)}`);
      }
      if (seenActions.has(actionId)) {
        return fail('duplicate_action', joinPath(itemPath, 'action_id'), `action_id ${q(actionId)} is declared twice`);
      }
      const badLabel = checkLabel(item.label, joinPath(itemPath, 'label'), 'invalid_action');
      if (badLabel) return badLabel;
      const sc = checkStyleConfirm(ctx, item, itemPath, 'confirm');
      if (!sc.ok) return sc;
      seenActions.add(actionId);
      if (seenActions.size > DISCOVERY_LIMITS.maxActions) {
        return fail('limit_exceeded', itemPath, `at most ${DISCOVERY_LIMITS.maxActions} actions per service`);
      }
      actions.push({ id: actionId, label: item.label as string, ...sc.value });
    }
  }
  return ok({ ids, actions });
}

function checkV1Layout(ctx: Ctx, obj: JsonObject, componentIds: ReadonlySet<string>): Fail | null {
  const field = optional(ctx, obj, 'layout');
  if (!field.present) return null;
  const layout = field.value;
  if (!isPlainObject(layout)) return fail('invalid_layout', 'layout', `layout must be an object, got ${q(layout)}`);
  const unknown = firstUnknownField(layout, LAYOUT_FIELDS, 'layout');
  if (unknown) return unknown;
  if (layout.type !== 'sections') return fail('invalid_layout', 'layout.type', `layout type must be "sections", got ${q(layout.type)}`);
  const root = layout.root;
  if (!Array.isArray(root)) return fail('invalid_layout', 'layout.root', `layout root must be an array, got ${q(root)}`);
  if (root.length > DISCOVERY_LIMITS.maxSections) {
    return fail('limit_exceeded', 'layout.root', `at most ${DISCOVERY_LIMITS.maxSections} sections`);
  }
  for (const [i, section] of root.entries()) {
    const path = joinPath('layout.root', i);
    if (!isPlainObject(section)) return fail('invalid_layout', path, `section must be an object, got ${q(section)}`);
    const unknownInSection = firstUnknownField(section, SECTION_FIELDS, path);
    if (unknownInSection) return unknownInSection;
    if (section.type !== 'section') return fail('invalid_layout', joinPath(path, 'type'), `section type must be "section", got ${q(section.type)}`);
    const badTitle = checkString(section.title, 'label');
    if (badTitle) return fail('invalid_layout', joinPath(path, 'title'), `section title ${badTitle}`);
    const children = section.children;
    const childrenPath = joinPath(path, 'children');
    if (!Array.isArray(children)) return fail('invalid_layout', childrenPath, `section children must be an array, got ${q(children)}`);
    if (children.length > DISCOVERY_LIMITS.maxChildren) {
      return fail('limit_exceeded', childrenPath, `at most ${DISCOVERY_LIMITS.maxChildren} children per section`);
    }
    for (const [j, child] of children.entries()) {
      const childPath = joinPath(childrenPath, j);
      if (typeof child !== 'string') return fail('invalid_layout', childPath, `child must be a component id, got ${q(child)}`);
      if (!componentIds.has(child)) return fail('unknown_component', childPath, `no component ${q(child)} in components`);
    }
  }
  return null;
}

function checkMvpActions(ctx: Ctx, obj: JsonObject): Result<NormalisedAction[], DiscoveryErrorCode> {
  const actions: NormalisedAction[] = [];
  const seen = new Set<string>();
  const add = (action: NormalisedAction, path: string): Fail | null => {
    if (seen.has(action.id)) return null; // MVP: first declaration wins
    seen.add(action.id);
    if (seen.size > DISCOVERY_LIMITS.maxActions) {
      return fail('limit_exceeded', path, `at most ${DISCOVERY_LIMITS.maxActions} actions per service`);
    }
    actions.push(action);
    return null;
  };

  const top = optional(ctx, obj, 'actions');
  if (top.present) {
    if (!Array.isArray(top.value)) return fail('invalid_action', 'actions', `actions must be an array, got ${q(top.value)}`);
    for (const [i, entry] of top.value.entries()) {
      const path = joinPath('actions', i);
      if (!isPlainObject(entry)) return fail('invalid_action', path, `action must be an object, got ${q(entry)}`);
      if (typeof entry.id !== 'string' || !SERVICE_ID_PATTERN.test(entry.id)) {
        return fail('invalid_action', joinPath(path, 'id'), `action id must match ${SERVICE_ID_PATTERN.source}, got ${q(entry.id)}`);
      }
      const badLabel = checkLabel(entry.label, joinPath(path, 'label'), 'invalid_action');
      if (badLabel) return badLabel;
      const sc = checkStyleConfirm(ctx, entry, path, 'require_confirmation');
      if (!sc.ok) return sc;
      const bad = add({ id: entry.id, label: entry.label as string, ...sc.value }, path);
      if (bad) return bad;
    }
  }

  const widgets = optional(ctx, obj, 'widgets');
  if (widgets.present) {
    if (!Array.isArray(widgets.value)) return fail('invalid_components', 'widgets', `widgets must be an array, got ${q(widgets.value)}`);
    if (widgets.value.length > DISCOVERY_LIMITS.maxComponents) {
      return fail('limit_exceeded', 'widgets', `at most ${DISCOVERY_LIMITS.maxComponents} widgets`);
    }
    for (const [i, widget] of widgets.value.entries()) {
      const path = joinPath('widgets', i);
      if (!isPlainObject(widget)) return fail('invalid_components', path, `widget must be an object, got ${q(widget)}`);
      if (typeof widget.id !== 'string' || widget.id === '' || widget.id.length > 128) {
        return fail('invalid_components', joinPath(path, 'id'), `widget id must be a non-empty string of at most 128 characters, got ${q(widget.id)}`);
      }
      if (typeof widget.type !== 'string' || widget.type === '' || widget.type.length > 64) {
        return fail('invalid_components', joinPath(path, 'type'), `widget type must be a non-empty string, got ${q(widget.type)}`);
      }
      const label = optional(ctx, widget, 'label');
      if (label.present) {
        const bad = checkLabel(label.value, joinPath(path, 'label'), 'invalid_field');
        if (bad) return bad;
      }
      if (widget.type !== 'action_group') continue;
      const items = optional(ctx, widget, 'items');
      if (!items.present) continue;
      const itemsPath = joinPath(path, 'items');
      if (!Array.isArray(items.value)) return fail('invalid_action', itemsPath, `action_group items must be an array, got ${q(items.value)}`);
      for (const [j, item] of items.value.entries()) {
        const itemPath = joinPath(itemsPath, j);
        if (!isPlainObject(item)) return fail('invalid_action', itemPath, `action item must be an object, got ${q(item)}`);
        if (typeof item.action_id !== 'string' || !SERVICE_ID_PATTERN.test(item.action_id)) {
          return fail('invalid_action', joinPath(itemPath, 'action_id'), `action_id must match ${SERVICE_ID_PATTERN.source}, got ${q(item.action_id)}`);
        }
        const badLabel = checkLabel(item.label, joinPath(itemPath, 'label'), 'invalid_action');
        if (badLabel) return badLabel;
        const sc = checkStyleConfirm(ctx, item, itemPath, 'confirm');
        if (!sc.ok) return sc;
        const bad = add({ id: item.action_id, label: item.label as string, ...sc.value }, itemPath);
        if (bad) return bad;
      }
    }
  }
  return ok(actions);
}

/**
 * Validates a parsed discovery payload and normalises it. The first failing rule is
 * returned (order documented in docs/protocol.md).
 */
export function parseDiscoverySnapshot(
  payload: unknown,
  opts: DiscoveryOptions,
): DiscoveryResult<NormalisedService> {
  // 1. One JSON object.
  if (!isPlainObject(payload)) return fail('not_object', '', 'a snapshot must be a JSON object');
  const obj = payload;
  const nul = findUnstorableString(obj);
  if (nul !== null) return fail('invalid_json', nul, `${nul}: ${UNSTORABLE_MESSAGE}`);

  // 2. Legacy token, before anything else is revealed.
  const expected = opts.legacyAxonToken;
  const tokenChecked = expected !== undefined && expected !== '';
  if (tokenChecked) {
    const token = obj.auth_token;
    if (typeof token !== 'string' || !constantTimeEqual(token, expected)) {
      return fail('unauthorized', 'auth_token', 'missing or wrong auth_token');
    }
  }

  // 3. api_version.
  if (obj.api_version !== 'v1') {
    return fail('invalid_api_version', 'api_version', `api_version must be "v1", got ${hasOwn(obj, 'api_version') ? q(obj.api_version) : 'nothing'}`);
  }

  // 4. Shape.
  const isV1 = hasOwn(obj, 'layout') || hasOwn(obj, 'components');
  const isMvp = hasOwn(obj, 'widgets') || hasOwn(obj, 'actions');
  if (isV1 && isMvp) {
    const key = hasOwn(obj, 'widgets') ? 'widgets' : 'actions';
    return fail('mixed_shape', key, `${key} cannot be mixed with layout/components in a v1 snapshot`);
  }
  const shape: SnapshotShape = isMvp ? 'mvp' : 'v1';
  const ctx: Ctx = { shape };

  // 5. Unknown top-level fields (v1 only; the MVP shape keeps them).
  if (shape === 'v1') {
    const unknown = firstUnknownField(obj, V1_TOP_FIELDS, '');
    if (unknown) return unknown;
  }

  // 6. id.
  const id = obj.id;
  if (!isServiceId(id)) {
    return fail('invalid_id', 'id', `id must match ${SERVICE_ID_PATTERN.source}, got ${hasOwn(obj, 'id') ? q(id) : 'nothing'}`);
  }
  if (id !== opts.topicServiceId) {
    return fail('id_mismatch', 'id', `id ${q(id)} does not match the topic's service id ${q(opts.topicServiceId)}`);
  }

  // 7. status, 8. ttl.
  const status = obj.status;
  if (!(SERVICE_STATUSES as readonly unknown[]).includes(status)) {
    return fail('invalid_status', 'status', `status must be online, warning, error or offline, got ${hasOwn(obj, 'status') ? q(status) : 'nothing'}`);
  }
  const ttl = obj.ttl;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl <= 0) {
    return fail('invalid_ttl', 'ttl', `ttl must be an integer number of seconds > 0, got ${hasOwn(obj, 'ttl') ? q(ttl) : 'nothing'}`);
  }
  if (ttl > DISCOVERY_LIMITS.maxTtlSeconds) {
    return fail('invalid_ttl', 'ttl', `ttl must be at most ${DISCOVERY_LIMITS.maxTtlSeconds} seconds`);
  }

  // 9. Optional metadata.
  const meta = checkMetadata(ctx, obj, tokenChecked);
  if (!meta.ok) return meta;

  // 10. Components and actions (v1: then 11. layout), or MVP actions and widgets.
  let actions: NormalisedAction[];
  if (shape === 'v1') {
    const comps = checkV1Components(ctx, obj);
    if (!comps.ok) return comps;
    const badLayout = checkV1Layout(ctx, obj, comps.value.ids);
    if (badLayout) return badLayout;
    actions = comps.value.actions;
  } else {
    const mvp = checkMvpActions(ctx, obj);
    if (!mvp.ok) return mvp;
    actions = mvp.value;
  }

  // The stored snapshot: the payload as JSON, without auth_token.
  const withoutToken = Object.fromEntries(Object.entries(obj).filter(([key]) => key !== 'auth_token'));
  const cloned = jsonClone(withoutToken);
  if (!cloned.ok || !isPlainObject(cloned.value)) {
    return fail('invalid_field', '', 'snapshot is not representable as JSON');
  }

  const m = meta.value;
  const service: { -readonly [K in keyof NormalisedService]: NormalisedService[K] } = {
    id,
    name: m.name ?? id,
    status: status as ServiceStatus,
    ttl,
    shape,
    actions,
    runners: m.runners,
    snapshot: cloned.value,
  };
  if (m.group !== undefined) service.group = m.group;
  if (m.tags !== undefined) service.tags = m.tags;
  if (m.icon !== undefined) service.icon = m.icon;
  if (m.url !== undefined) service.url = m.url;
  if (m.message !== undefined) service.message = m.message;
  if (m.description !== undefined) service.description = m.description;
  if (m.markdownDocs !== undefined) service.markdownDocs = m.markdownDocs;
  return ok(service);
}

/**
 * Bytes → normalised service: size limit (`too_large`, default 256 KiB), strict UTF-8
 * (`invalid_utf8`), one JSON value (`invalid_json`), an object (`not_object`), then
 * `parseDiscoverySnapshot`.
 */
export function parseDiscoveryBytes(
  buf: Uint8Array,
  opts: DiscoveryBytesOptions,
): DiscoveryResult<NormalisedService> {
  const parsed = parseJsonObjectBytes(buf, opts.maxBytes ?? DISCOVERY_LIMITS.maxBytesMqtt);
  if (!parsed.ok) return parsed;
  return parseDiscoverySnapshot(parsed.value, opts);
}
