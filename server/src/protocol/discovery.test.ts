import { describe, expect, it } from 'vitest';
import {
  DISCOVERY_LIMITS,
  parseDiscoveryBytes,
  parseDiscoverySnapshot,
  type DiscoveryOptions,
  type NormalisedService,
} from './discovery.js';

type Json = Record<string, any>; // test fixtures only

const TOPIC = 'memory-sidecar-python';
const OPTS: DiscoveryOptions = { topicServiceId: TOPIC };
const TOKEN_OPTS: DiscoveryOptions = { topicServiceId: TOPIC, legacyAxonToken: 'secret-token' };

/** A complete Synapse discovery v1 snapshot using every component type. */
function v1(): Json {
  return {
    api_version: 'v1',
    id: TOPIC,
    name: 'Memory sidecar',
    status: 'online',
    ttl: 30,
    group: 'infra',
    tags: ['python', 'memory'],
    icon: 'memory',
    url: 'https://example.com/memory',
    message: 'all good',
    description: 'Reports memory usage',
    markdown_docs: '# Memory sidecar',
    runners: ['command', 'prompt', 'command'],
    layout: {
      type: 'sections',
      root: [
        { type: 'section', title: 'Overview', children: ['mem', 'cpu', 'health'] },
        { type: 'section', title: 'Operations', children: ['logs', 'docs', 'controls'] },
      ],
    },
    components: {
      mem: { id: 'mem', type: 'stat', label: 'Memory', value: 512, unit: 'MiB' },
      cpu: { id: 'cpu', type: 'gauge', label: 'CPU', value: 0.4, min: 0, max: 1, unit: '%' },
      health: { id: 'health', type: 'status_indicator', label: 'Health', status: 'online' },
      logs: { id: 'logs', type: 'log_stream', label: 'Logs', lines: ['started', 'ok'] },
      docs: { id: 'docs', type: 'link', label: 'Docs', url: 'https://example.com/docs' },
      controls: {
        id: 'controls',
        type: 'action_group',
        label: 'Controls',
        items: [
          { action_id: 'drop_cache', label: 'Drop cache', style: 'warning', confirm: true },
          { action_id: 'restart_process', label: 'Restart process', style: 'danger', confirm: 'Restart the process?' },
        ],
      },
    },
  };
}

/** An MVP snapshot like the one the seed's memory_axon.py sends. */
function mvp(): Json {
  return {
    api_version: 'v1',
    auth_token: 'secret-token',
    id: TOPIC,
    name: 'Memory Sidecar (Python)',
    group: 'examples',
    tags: ['python', 'memory'],
    icon: 'memory',
    url: 'http://localhost:8000',
    status: 'online',
    message: 'Memory usage nominal',
    ttl: 30,
    description: 'Python sidecar that reports memory usage',
    markdown_docs: '## Memory sidecar',
    actions: [{ id: 'drop_cache', label: 'Drop Cache', style: 'warning', require_confirmation: true }],
    widgets: [
      { id: 'mem_usage', type: 'stat', label: 'Memory Usage', value: 73.5, unit: '%', trend: 'up' },
      { id: 'mem_history', type: 'line_chart', label: 'History', series: [1, 2, 3], action_id: 'not_an_action' },
      {
        id: 'controls',
        type: 'action_group',
        label: 'Controls',
        items: [
          { action_id: 'drop_cache', label: 'Drop Cache again', style: 'primary' },
          { action_id: 'restart_process', label: 'Restart Process', style: 'danger', confirm: true, tooltip: 'kept' },
        ],
      },
    ],
  };
}

const with_ =
  (base: () => Json) =>
  (mutate: (s: Json) => void): Json => {
    const s = base();
    mutate(s);
    return s;
  };
const V1 = with_(v1);
const MVP = with_(mvp);

function expectOk(payload: unknown, opts: DiscoveryOptions = OPTS): NormalisedService {
  const r = parseDiscoverySnapshot(payload, opts);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

const manyComponents = (n: number): Json =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, { id: `c${i}`, type: 'stat' }]));
const manyItems = (n: number) => Array.from({ length: n }, (_, i) => ({ action_id: `a${i}`, label: `A${i}` }));

describe('valid snapshots', () => {
  it('normalises a full v1 snapshot', () => {
    const s = expectOk(v1());
    expect(s).toMatchObject({
      id: TOPIC,
      name: 'Memory sidecar',
      status: 'online',
      ttl: 30,
      shape: 'v1',
      group: 'infra',
      tags: ['python', 'memory'],
      icon: 'memory',
      url: 'https://example.com/memory',
      message: 'all good',
      description: 'Reports memory usage',
      markdownDocs: '# Memory sidecar',
      runners: ['command', 'prompt'],
    });
    expect(s.actions).toEqual([
      { id: 'drop_cache', label: 'Drop cache', style: 'warning', confirm: true },
      { id: 'restart_process', label: 'Restart process', style: 'danger', confirm: 'Restart the process?' },
    ]);
    expect(s.snapshot).toEqual(v1());
  });

  it("normalises the seed's memory_axon.py MVP snapshot", () => {
    const s = expectOk(mvp(), TOKEN_OPTS);
    expect(s.shape).toBe('mvp');
    expect(s.id).toBe('memory-sidecar-python');
    expect(s.actions).toEqual([
      { id: 'drop_cache', label: 'Drop Cache', style: 'warning', confirm: true },
      { id: 'restart_process', label: 'Restart Process', style: 'danger', confirm: true },
    ]);
    expect(s.runners).toEqual([]);
    expect(s.snapshot).not.toHaveProperty('auth_token');
    const { auth_token: _, ...rest } = mvp();
    expect(s.snapshot).toEqual(rest);
  });

  it.each<[string, Json, DiscoveryOptions, Partial<NormalisedService>]>([
    ['minimal (no layout, no components)', { api_version: 'v1', id: TOPIC, status: 'offline', ttl: 1 }, OPTS, { shape: 'v1', name: TOPIC, actions: [], runners: [] }],
    ['empty components and root', V1((s) => { s.components = {}; s.layout = { type: 'sections', root: [] }; }), OPTS, { shape: 'v1', actions: [] }],
    ['section with no children', V1((s) => { s.layout.root = [{ type: 'section', title: '', children: [] }]; }), OPTS, { shape: 'v1' }],
    ['components without layout', V1((s) => { delete s.layout; }), OPTS, { shape: 'v1' }],
    ['empty action_group', V1((s) => { s.components.controls.items = []; }), OPTS, { actions: [] }],
    ['auth_token ignored without a configured token', V1((s) => { s.auth_token = 'anything'; }), OPTS, { shape: 'v1' }],
    ['auth_token accepted when it matches', V1((s) => { s.auth_token = 'secret-token'; }), TOKEN_OPTS, { shape: 'v1' }],
    ['empty legacy token means unchecked', V1((s) => { s.auth_token = 'x'; }), { topicServiceId: TOPIC, legacyAxonToken: '' }, { shape: 'v1' }],
    ['ttl at the cap', V1((s) => { s.ttl = DISCOVERY_LIMITS.maxTtlSeconds; }), OPTS, { ttl: 86_400 }],
    ['empty url', V1((s) => { s.url = ''; }), OPTS, { url: '' }],
    ['label of 200 emoji', V1((s) => { s.components.controls.items[0].label = '🚀'.repeat(200); }), OPTS, {}],
    ['markdown_docs at 64 KiB', V1((s) => { s.markdown_docs = 'x'.repeat(64 * 1024); }), OPTS, {}],
    ['256 actions', V1((s) => { s.components.controls.items = manyItems(256); }), OPTS, {}],
    ['256 components', V1((s) => { delete s.layout; s.components = manyComponents(256); }), OPTS, {}],
    ['stat value null, string or boolean', V1((s) => { s.components.mem.value = null; s.components.cpu.value = null; }), OPTS, {}],
    ['a child used in two sections', V1((s) => { s.layout.root[1].children.push('mem'); }), OPTS, {}],
    ['MVP with widgets only', MVP((s) => { delete s.actions; }), TOKEN_OPTS, { shape: 'mvp' }],
    ['MVP with actions only', MVP((s) => { delete s.widgets; }), TOKEN_OPTS, { shape: 'mvp' }],
    ['MVP null optionals are absent', MVP((s) => { s.name = null; s.url = null; s.actions[0].style = null; }), TOKEN_OPTS, { name: TOPIC }],
    ['MVP keeps unknown top-level fields', MVP((s) => { s.uptime_seconds = 12; }), TOKEN_OPTS, { shape: 'mvp' }],
    ['MVP action_group without items', MVP((s) => { delete s.widgets[2].items; delete s.actions; }), TOKEN_OPTS, { actions: [] }],
    ['MVP without auth_token when no token is configured', MVP((s) => { delete s.auth_token; }), OPTS, { shape: 'mvp' }],
  ])('%s', (_name, payload, opts, expected) => {
    expect(expectOk(payload, opts)).toMatchObject(expected);
  });

  it('MVP: the first declaration of an action wins', () => {
    const s = expectOk(
      MVP((x) => {
        x.actions = [
          { id: 'b', label: 'B1' },
          { id: 'a', label: 'A1' },
          { id: 'b', label: 'B2' },
        ];
        x.widgets = [{ id: 'g', type: 'action_group', items: [{ action_id: 'a', label: 'A2' }, { action_id: 'c', label: 'C' }] }];
      }),
      TOKEN_OPTS,
    );
    expect(s.actions.map((a) => [a.id, a.label])).toEqual([
      ['b', 'B1'],
      ['a', 'A1'],
      ['c', 'C'],
    ]);
  });

  it('MVP keeps unknown widget properties in the stored snapshot', () => {
    const s = expectOk(mvp(), TOKEN_OPTS);
    const widgets = s.snapshot.widgets as Json[];
    expect(widgets[0]?.trend).toBe('up');
    expect(widgets[1]?.series).toEqual([1, 2, 3]);
    expect(widgets[2]?.items[1].tooltip).toBe('kept');
  });

  it('the stored snapshot is a copy', () => {
    const payload = v1();
    const s = expectOk(payload);
    (s.snapshot.components as Json).mem.value = 1;
    expect(payload.components.mem.value).toBe(512);
  });
});

const long = (n: number) => 'x'.repeat(n);

/** One row per rule: [rule, payload, options, code, path]. */
const V1_RULES: Array<[string, unknown, DiscoveryOptions, string, string]> = [
  // One JSON object
  ['payload is an array', [v1()], OPTS, 'not_object', ''],
  ['payload is null', null, OPTS, 'not_object', ''],
  ['payload is a string', '{}', OPTS, 'not_object', ''],
  // Legacy token
  ['auth_token missing when a token is configured', v1(), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['auth_token wrong', V1((s) => { s.auth_token = 'secret-tokeN'; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['auth_token a prefix of the token', V1((s) => { s.auth_token = 'secret'; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['auth_token not a string', V1((s) => { s.auth_token = 1; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['auth_token not a string, token not configured', V1((s) => { s.auth_token = 1; }), OPTS, 'invalid_field', 'auth_token'],
  // api_version
  ['api_version missing', V1((s) => { delete s.api_version; }), OPTS, 'invalid_api_version', 'api_version'],
  ['api_version null', V1((s) => { s.api_version = null; }), OPTS, 'invalid_api_version', 'api_version'],
  ['api_version a number', V1((s) => { s.api_version = 1; }), OPTS, 'invalid_api_version', 'api_version'],
  ['api_version another string', V1((s) => { s.api_version = 'v2'; }), OPTS, 'invalid_api_version', 'api_version'],
  ['api_version wrong case', V1((s) => { s.api_version = 'V1'; }), OPTS, 'invalid_api_version', 'api_version'],
  // Mixed shapes
  ['widgets mixed into v1', V1((s) => { s.widgets = []; }), OPTS, 'mixed_shape', 'widgets'],
  ['top-level actions mixed into v1', V1((s) => { s.actions = []; }), OPTS, 'mixed_shape', 'actions'],
  ['actions mixed with components only', V1((s) => { delete s.layout; s.actions = [{ id: 'x', label: 'X' }]; }), OPTS, 'mixed_shape', 'actions'],
  // Unknown fields at any depth
  ['unknown top-level field', V1((s) => { s.colour = 'red'; }), OPTS, 'unknown_field', 'colour'],
  ['unknown field in layout', V1((s) => { s.layout.columns = 2; }), OPTS, 'unknown_field', 'layout.columns'],
  ['unknown field in a section', V1((s) => { s.layout.root[1].collapsed = true; }), OPTS, 'unknown_field', 'layout.root[1].collapsed'],
  ['unknown field in a component', V1((s) => { s.components.mem.colour = 'red'; }), OPTS, 'unknown_field', 'components.mem.colour'],
  ['field of another component type', V1((s) => { s.components.mem.min = 0; }), OPTS, 'unknown_field', 'components.mem.min'],
  ['items on a non-group component', V1((s) => { s.components.mem.items = []; }), OPTS, 'unknown_field', 'components.mem.items'],
  ['unknown field in an action item', V1((s) => { s.components.controls.items[1].icon = 'x'; }), OPTS, 'unknown_field', 'components.controls.items[1].icon'],
  // id
  ['id missing', V1((s) => { delete s.id; }), OPTS, 'invalid_id', 'id'],
  ['id empty', V1((s) => { s.id = ''; }), OPTS, 'invalid_id', 'id'],
  ['id with a space', V1((s) => { s.id = 'memory sidecar'; }), OPTS, 'invalid_id', 'id'],
  ['id of 129 characters', V1((s) => { s.id = long(129); }), { topicServiceId: long(129) }, 'invalid_id', 'id'],
  ['id a number', V1((s) => { s.id = 7; }), OPTS, 'invalid_id', 'id'],
  ['id differs from the topic suffix', v1(), { topicServiceId: 'other-service' }, 'id_mismatch', 'id'],
  ['id differs from the topic suffix in case', v1(), { topicServiceId: 'Memory-sidecar-python' }, 'id_mismatch', 'id'],
  // status
  ['status missing', V1((s) => { delete s.status; }), OPTS, 'invalid_status', 'status'],
  ['status unknown', V1((s) => { s.status = 'up'; }), OPTS, 'invalid_status', 'status'],
  ['status null', V1((s) => { s.status = null; }), OPTS, 'invalid_status', 'status'],
  // ttl
  ['ttl missing', V1((s) => { delete s.ttl; }), OPTS, 'invalid_ttl', 'ttl'],
  ['ttl zero', V1((s) => { s.ttl = 0; }), OPTS, 'invalid_ttl', 'ttl'],
  ['ttl negative', V1((s) => { s.ttl = -30; }), OPTS, 'invalid_ttl', 'ttl'],
  ['ttl fractional', V1((s) => { s.ttl = 1.5; }), OPTS, 'invalid_ttl', 'ttl'],
  ['ttl a string', V1((s) => { s.ttl = '30'; }), OPTS, 'invalid_ttl', 'ttl'],
  ['ttl over the cap', V1((s) => { s.ttl = 86_401; }), OPTS, 'invalid_ttl', 'ttl'],
  // Optional metadata
  ['name not a string', V1((s) => { s.name = 5; }), OPTS, 'invalid_field', 'name'],
  ['name null (v1)', V1((s) => { s.name = null; }), OPTS, 'invalid_field', 'name'],
  ['name over 200 characters', V1((s) => { s.name = long(201); }), OPTS, 'invalid_field', 'name'],
  ['group not a string', V1((s) => { s.group = ['a']; }), OPTS, 'invalid_field', 'group'],
  ['tags not an array', V1((s) => { s.tags = 'python'; }), OPTS, 'invalid_field', 'tags'],
  ['tag not a string', V1((s) => { s.tags = ['ok', 3]; }), OPTS, 'invalid_field', 'tags[1]'],
  ['tag empty', V1((s) => { s.tags = ['']; }), OPTS, 'invalid_field', 'tags[0]'],
  ['too many tags', V1((s) => { s.tags = Array.from({ length: 65 }, (_, i) => `t${i}`); }), OPTS, 'limit_exceeded', 'tags'],
  ['icon over 4 KiB', V1((s) => { s.icon = long(4097); }), OPTS, 'invalid_field', 'icon'],
  ['url not http(s)', V1((s) => { s.url = 'javascript:alert(1)'; }), OPTS, 'invalid_field', 'url'],
  ['url relative', V1((s) => { s.url = '/docs'; }), OPTS, 'invalid_field', 'url'],
  ['message an object', V1((s) => { s.message = { text: 'x' }; }), OPTS, 'invalid_field', 'message'],
  ['message over 4 KiB (multi-byte)', V1((s) => { s.message = 'é'.repeat(2049); }), OPTS, 'invalid_field', 'message'],
  ['description a number', V1((s) => { s.description = 1; }), OPTS, 'invalid_field', 'description'],
  ['markdown_docs over 64 KiB', V1((s) => { s.markdown_docs = long(64 * 1024 + 1); }), OPTS, 'invalid_field', 'markdown_docs'],
  ['runners not an array', V1((s) => { s.runners = 'command'; }), OPTS, 'invalid_field', 'runners'],
  ['runner unknown', V1((s) => { s.runners = ['command', 'shell']; }), OPTS, 'invalid_field', 'runners[1]'],
  // components
  ['components null', V1((s) => { s.components = null; }), OPTS, 'invalid_components', 'components'],
  ['components an array', V1((s) => { s.components = []; }), OPTS, 'invalid_components', 'components'],
  ['component key not an id', V1((s) => { s.components['bad key'] = { id: 'bad key', type: 'stat' }; }), OPTS, 'invalid_components', 'components.bad key'],
  ['component not an object', V1((s) => { s.components.mem = 'stat'; }), OPTS, 'invalid_components', 'components.mem'],
  ['component id differs from its key', V1((s) => { s.components.mem.id = 'memory'; }), OPTS, 'invalid_components', 'components.mem.id'],
  ['component id missing', V1((s) => { delete s.components.mem.id; }), OPTS, 'invalid_components', 'components.mem.id'],
  ['component type unknown', V1((s) => { s.components.mem.type = 'chart'; }), OPTS, 'invalid_components', 'components.mem.type'],
  ['component type missing', V1((s) => { delete s.components.mem.type; }), OPTS, 'invalid_components', 'components.mem.type'],
  ['action_group items missing', V1((s) => { delete s.components.controls.items; }), OPTS, 'invalid_components', 'components.controls.items'],
  ['action_group items null', V1((s) => { s.components.controls.items = null; }), OPTS, 'invalid_components', 'components.controls.items'],
  ['too many components', V1((s) => { delete s.layout; s.components = manyComponents(257); }), OPTS, 'limit_exceeded', 'components'],
  // Component fields
  ['component label not a string', V1((s) => { s.components.mem.label = 1; }), OPTS, 'invalid_field', 'components.mem.label'],
  ['component label over 200 characters', V1((s) => { s.components.mem.label = long(201); }), OPTS, 'invalid_field', 'components.mem.label'],
  ['unit over 200 characters', V1((s) => { s.components.mem.unit = long(201); }), OPTS, 'invalid_field', 'components.mem.unit'],
  ['stat value an object', V1((s) => { s.components.mem.value = { v: 1 }; }), OPTS, 'invalid_field', 'components.mem.value'],
  ['gauge value a string', V1((s) => { s.components.cpu.value = '0.4'; }), OPTS, 'invalid_field', 'components.cpu.value'],
  ['gauge min not a number', V1((s) => { s.components.cpu.min = null; }), OPTS, 'invalid_field', 'components.cpu.min'],
  ['gauge max not above min', V1((s) => { s.components.cpu.max = 0; }), OPTS, 'invalid_field', 'components.cpu.max'],
  ['status_indicator status unknown', V1((s) => { s.components.health.status = 'green'; }), OPTS, 'invalid_field', 'components.health.status'],
  ['log_stream lines not an array', V1((s) => { s.components.logs.lines = 'x'; }), OPTS, 'invalid_field', 'components.logs.lines'],
  ['log_stream line not a string', V1((s) => { s.components.logs.lines = ['a', 2]; }), OPTS, 'invalid_field', 'components.logs.lines[1]'],
  ['log_stream too many lines', V1((s) => { s.components.logs.lines = Array(1001).fill('x'); }), OPTS, 'limit_exceeded', 'components.logs.lines'],
  ['link url missing', V1((s) => { delete s.components.docs.url; }), OPTS, 'invalid_field', 'components.docs.url'],
  ['link url not http(s)', V1((s) => { s.components.docs.url = 'javascript:alert(1)'; }), OPTS, 'invalid_field', 'components.docs.url'],
  // Actions
  ['action_id on a non-group component', V1((s) => { s.components.mem.action_id = 'drop_cache'; }), OPTS, 'invalid_action', 'components.mem.action_id'],
  ['action item not an object', V1((s) => { s.components.controls.items[0] = 'drop_cache'; }), OPTS, 'invalid_action', 'components.controls.items[0]'],
  ['action_id missing', V1((s) => { delete s.components.controls.items[0].action_id; }), OPTS, 'invalid_action', 'components.controls.items[0].action_id'],
  ['action_id not matching the id pattern', V1((s) => { s.components.controls.items[0].action_id = 'drop cache'; }), OPTS, 'invalid_action', 'components.controls.items[0].action_id'],
  ['action label missing', V1((s) => { delete s.components.controls.items[0].label; }), OPTS, 'invalid_action', 'components.controls.items[0].label'],
  ['action label over 200 characters', V1((s) => { s.components.controls.items[0].label = long(201); }), OPTS, 'invalid_action', 'components.controls.items[0].label'],
  ['action style not a string', V1((s) => { s.components.controls.items[0].style = 1; }), OPTS, 'invalid_action', 'components.controls.items[0].style'],
  ['action style null (v1)', V1((s) => { s.components.controls.items[0].style = null; }), OPTS, 'invalid_action', 'components.controls.items[0].style'],
  ['action confirm a number', V1((s) => { s.components.controls.items[0].confirm = 1; }), OPTS, 'invalid_action', 'components.controls.items[0].confirm'],
  ['action_id twice in one group', V1((s) => { s.components.controls.items[1].action_id = 'drop_cache'; }), OPTS, 'duplicate_action', 'components.controls.items[1].action_id'],
  ['action_id twice across groups', V1((s) => {
    s.components.more = { id: 'more', type: 'action_group', items: [{ action_id: 'restart_process', label: 'Again' }] };
  }), OPTS, 'duplicate_action', 'components.more.items[0].action_id'],
  ['too many actions', V1((s) => { s.components.controls.items = manyItems(257); }), OPTS, 'limit_exceeded', 'components.controls.items[256]'],
  // layout
  ['layout null', V1((s) => { s.layout = null; }), OPTS, 'invalid_layout', 'layout'],
  ['layout an array', V1((s) => { s.layout = []; }), OPTS, 'invalid_layout', 'layout'],
  ['layout type not sections', V1((s) => { s.layout.type = 'grid'; }), OPTS, 'invalid_layout', 'layout.type'],
  ['layout root missing', V1((s) => { delete s.layout.root; }), OPTS, 'invalid_layout', 'layout.root'],
  ['layout root null', V1((s) => { s.layout.root = null; }), OPTS, 'invalid_layout', 'layout.root'],
  ['section not an object', V1((s) => { s.layout.root[0] = 'Overview'; }), OPTS, 'invalid_layout', 'layout.root[0]'],
  ['section type not section', V1((s) => { s.layout.root[0].type = 'tab'; }), OPTS, 'invalid_layout', 'layout.root[0].type'],
  ['section title missing', V1((s) => { delete s.layout.root[0].title; }), OPTS, 'invalid_layout', 'layout.root[0].title'],
  ['section title over 200 characters', V1((s) => { s.layout.root[0].title = long(201); }), OPTS, 'invalid_layout', 'layout.root[0].title'],
  ['children null', V1((s) => { s.layout.root[0].children = null; }), OPTS, 'invalid_layout', 'layout.root[0].children'],
  ['children missing', V1((s) => { delete s.layout.root[0].children; }), OPTS, 'invalid_layout', 'layout.root[0].children'],
  ['child not a string', V1((s) => { s.layout.root[0].children = [1]; }), OPTS, 'invalid_layout', 'layout.root[0].children[0]'],
  ['child not in components', V1((s) => { s.layout.root[1].children.push('nope'); }), OPTS, 'unknown_component', 'layout.root[1].children[3]'],
  ['child without components', V1((s) => { delete s.components; }), OPTS, 'unknown_component', 'layout.root[0].children[0]'],
  ['too many sections', V1((s) => { s.layout.root = Array(257).fill({ type: 'section', title: 't', children: [] }); }), OPTS, 'limit_exceeded', 'layout.root'],
  ['too many children', V1((s) => { s.layout.root[0].children = Array(257).fill('mem'); }), OPTS, 'limit_exceeded', 'layout.root[0].children'],
  // Rule order: the first failing rule wins.
  ['order: unauthorized before api_version', V1((s) => { s.api_version = 'v2'; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['order: api_version before mixed shape', V1((s) => { s.api_version = 'v0'; s.widgets = []; }), OPTS, 'invalid_api_version', 'api_version'],
  ['order: unknown field before id', V1((s) => { s.extra = 1; s.id = 'bad id'; }), OPTS, 'unknown_field', 'extra'],
  ['order: id before status', V1((s) => { s.id = ''; s.status = 'x'; }), OPTS, 'invalid_id', 'id'],
  ['order: status before ttl', V1((s) => { s.status = 'x'; s.ttl = 0; }), OPTS, 'invalid_status', 'status'],
  ['order: ttl before metadata', V1((s) => { s.ttl = 0; s.name = 1; }), OPTS, 'invalid_ttl', 'ttl'],
  ['order: metadata before components', V1((s) => { s.name = 1; s.components = null; }), OPTS, 'invalid_field', 'name'],
  ['order: components before layout', V1((s) => { s.components.mem.type = 'x'; s.layout = null; }), OPTS, 'invalid_components', 'components.mem.type'],
];

describe('Synapse discovery v1 rules', () => {
  it.each(V1_RULES)('%s → %s at %s', (_rule, payload, opts, code, path) => {
    const r = parseDiscoverySnapshot(payload, opts);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect({ code: r.error.code, path: r.error.path }).toEqual({ code, path });
      expect(r.error.message.length).toBeGreaterThan(0);
    }
  });
});

const MVP_RULES: Array<[string, unknown, DiscoveryOptions, string, string]> = [
  ['auth_token wrong', MVP((s) => { s.auth_token = 'nope'; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['auth_token missing', MVP((s) => { delete s.auth_token; }), TOKEN_OPTS, 'unauthorized', 'auth_token'],
  ['api_version missing', MVP((s) => { delete s.api_version; }), TOKEN_OPTS, 'invalid_api_version', 'api_version'],
  ['widgets with layout', MVP((s) => { s.layout = { type: 'sections', root: [] }; }), TOKEN_OPTS, 'mixed_shape', 'widgets'],
  ['actions with components', MVP((s) => { delete s.widgets; s.components = {}; }), TOKEN_OPTS, 'mixed_shape', 'actions'],
  ['id invalid', MVP((s) => { s.id = 'a/b'; }), TOKEN_OPTS, 'invalid_id', 'id'],
  ['id differs from the topic', mvp(), { ...TOKEN_OPTS, topicServiceId: 'other' }, 'id_mismatch', 'id'],
  ['status invalid', MVP((s) => { s.status = 'healthy'; }), TOKEN_OPTS, 'invalid_status', 'status'],
  ['status null is not absent', MVP((s) => { s.status = null; }), TOKEN_OPTS, 'invalid_status', 'status'],
  ['ttl invalid', MVP((s) => { s.ttl = 0; }), TOKEN_OPTS, 'invalid_ttl', 'ttl'],
  ['tags not strings', MVP((s) => { s.tags = [1]; }), TOKEN_OPTS, 'invalid_field', 'tags[0]'],
  ['actions not an array', MVP((s) => { s.actions = { id: 'x' }; }), TOKEN_OPTS, 'invalid_action', 'actions'],
  ['action not an object', MVP((s) => { s.actions = ['drop_cache']; }), TOKEN_OPTS, 'invalid_action', 'actions[0]'],
  ['action id missing', MVP((s) => { delete s.actions[0].id; }), TOKEN_OPTS, 'invalid_action', 'actions[0].id'],
  ['action id invalid', MVP((s) => { s.actions[0].id = 'drop cache'; }), TOKEN_OPTS, 'invalid_action', 'actions[0].id'],
  ['action label missing', MVP((s) => { delete s.actions[0].label; }), TOKEN_OPTS, 'invalid_action', 'actions[0].label'],
  ['action style not a string', MVP((s) => { s.actions[0].style = 3; }), TOKEN_OPTS, 'invalid_action', 'actions[0].style'],
  ['require_confirmation a number', MVP((s) => { s.actions[0].require_confirmation = 1; }), TOKEN_OPTS, 'invalid_action', 'actions[0].require_confirmation'],
  ['widgets not an array', MVP((s) => { s.widgets = {}; }), TOKEN_OPTS, 'invalid_components', 'widgets'],
  ['widget not an object', MVP((s) => { s.widgets[1] = 'chart'; }), TOKEN_OPTS, 'invalid_components', 'widgets[1]'],
  ['widget id missing', MVP((s) => { delete s.widgets[1].id; }), TOKEN_OPTS, 'invalid_components', 'widgets[1].id'],
  ['widget type missing', MVP((s) => { delete s.widgets[1].type; }), TOKEN_OPTS, 'invalid_components', 'widgets[1].type'],
  ['widget label not a string', MVP((s) => { s.widgets[0].label = 5; }), TOKEN_OPTS, 'invalid_field', 'widgets[0].label'],
  ['action_group items not an array', MVP((s) => { s.widgets[2].items = 'x'; }), TOKEN_OPTS, 'invalid_action', 'widgets[2].items'],
  ['widget item not an object', MVP((s) => { s.widgets[2].items[0] = null; }), TOKEN_OPTS, 'invalid_action', 'widgets[2].items[0]'],
  ['widget item action_id invalid', MVP((s) => { s.widgets[2].items[1].action_id = 'restart!'; }), TOKEN_OPTS, 'invalid_action', 'widgets[2].items[1].action_id'],
  ['widget item label missing', MVP((s) => { delete s.widgets[2].items[1].label; }), TOKEN_OPTS, 'invalid_action', 'widgets[2].items[1].label'],
  ['widget item confirm an object', MVP((s) => { s.widgets[2].items[1].confirm = {}; }), TOKEN_OPTS, 'invalid_action', 'widgets[2].items[1].confirm'],
  ['too many widgets', MVP((s) => { s.widgets = Array.from({ length: 257 }, (_, i) => ({ id: `w${i}`, type: 'stat' })); }), TOKEN_OPTS, 'limit_exceeded', 'widgets'],
  ['too many actions', MVP((s) => { s.actions = manyItems(257).map((a) => ({ id: a.action_id, label: a.label })); }), TOKEN_OPTS, 'limit_exceeded', 'actions[256]'],
  ['order: top-level actions before widgets', MVP((s) => { s.actions[0].id = '!'; s.widgets = 1; }), TOKEN_OPTS, 'invalid_action', 'actions[0].id'],
];

describe('MVP shape rules', () => {
  it.each(MVP_RULES)('%s → %s at %s', (_rule, payload, opts, code, path) => {
    const r = parseDiscoverySnapshot(payload, opts);
    expect(r.ok).toBe(false);
    if (!r.ok) expect({ code: r.error.code, path: r.error.path }).toEqual({ code, path });
  });
});

describe('parseDiscoveryBytes', () => {
  const enc = new TextEncoder();
  const MAX = DISCOVERY_LIMITS.maxBytesMqtt;
  /** A valid snapshot padded with trailing whitespace to exactly `size` bytes. */
  const padded = (size: number): Uint8Array => {
    const json = JSON.stringify(v1());
    return enc.encode(json + ' '.repeat(size - enc.encode(json).length));
  };

  it.each<[string, Uint8Array, number | undefined, string | null]>([
    ['valid JSON object', enc.encode(JSON.stringify(v1())), undefined, null],
    ['with a UTF-8 BOM', new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(JSON.stringify(v1()))]), undefined, null],
    ['exactly 256 KiB', padded(MAX), undefined, null],
    ['one byte over 256 KiB', padded(MAX + 1), undefined, 'too_large'],
    ['300 KiB with the HTTP limit', padded(300 * 1024), DISCOVERY_LIMITS.maxBytesHttp, null],
    ['over the HTTP limit', padded(DISCOVERY_LIMITS.maxBytesHttp + 1), DISCOVERY_LIMITS.maxBytesHttp, 'too_large'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), undefined, 'invalid_utf8'],
    ['truncated UTF-8 sequence', new Uint8Array([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d]), undefined, 'invalid_utf8'],
    ['empty payload', new Uint8Array(), undefined, 'invalid_json'],
    ['not JSON', enc.encode('{api_version: v1}'), undefined, 'invalid_json'],
    ['two JSON objects', enc.encode('{"a":1}{"b":2}'), undefined, 'invalid_json'],
    ['a JSON array', enc.encode('[]'), undefined, 'not_object'],
    ['JSON null', enc.encode('null'), undefined, 'not_object'],
    ['a JSON string', enc.encode('"{}"'), undefined, 'not_object'],
    ['a JSON number', enc.encode('42'), undefined, 'not_object'],
    ['then the snapshot rules', enc.encode(JSON.stringify(V1((s) => { s.ttl = 0; }))), undefined, 'invalid_ttl'],
    ['__proto__ is just an unknown field', enc.encode('{"api_version":"v1","__proto__":{"x":1}}'), undefined, 'unknown_field'],
  ])('%s', (_name, buf, maxBytes, code) => {
    const r = parseDiscoveryBytes(buf, maxBytes === undefined ? OPTS : { ...OPTS, maxBytes });
    if (code === null) expect(r.ok).toBe(true);
    else {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe(code);
    }
  });

  it('MVP widget properties named __proto__ are stored as data', () => {
    const json = JSON.stringify(mvp()).replace('"trend":"up"', '"__proto__":{"polluted":true}');
    const r = parseDiscoveryBytes(enc.encode(json), TOKEN_OPTS);
    expect(r.ok).toBe(true);
    if (r.ok) {
      const widget = (r.value.snapshot.widgets as Json[])[0] as Json;
      expect(Object.getPrototypeOf(widget)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(widget, '__proto__')).toBe(true);
      expect(({} as Json).polluted).toBeUndefined();
    }
  });
});
