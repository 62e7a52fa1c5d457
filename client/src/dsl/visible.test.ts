import { describe, expect, it } from 'vitest';
import { parseActionConfig } from './config.js';
import type { ActionConfig } from './types.js';
import { visibleActions } from './visible.js';

// The seed's complete examples, verbatim.
const EXAMPLE_1 = `
actions:
  approve:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body:
        status: processing
    ui:
      label: Approve
      variant: primary
      icon: Check

types:
  research:
    actions:
      - action: approve
        when:
          field: status
          op: eq
          value: pending
`;

const EXAMPLE_2 = `
actions:
  approve-high-confidence:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body:
        status: processing
    ui:
      label: Auto-Approve
      variant: primary
      icon: Zap

  review-manual:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body:
        status: pending_review
    ui:
      label: Review Manually
      variant: secondary
      icon: Eye

  reject:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body:
        status: rejected
    ui:
      label: Reject
      variant: danger
      icon: XCircle

types:
  research:
    actions:
      # Auto-approve if confidence > 0.9 and status is pending
      - action: approve-high-confidence
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: confidence, op: gt, value: 0.9 }

      # Manual review if confidence between 0.5-0.9
      - action: review-manual
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: confidence, op: gt, value: 0.5 }
            - { field: confidence, op: lte, value: 0.9 }

      # Reject if confidence < 0.5 OR status is failed
      - action: reject
        when:
          any:
            - all:
                - { field: status, op: eq, value: pending }
                - { field: confidence, op: lt, value: 0.5 }
            - { field: status, op: eq, value: failed }
`;

const EXAMPLE_3 = `
actions:
  create-draft:
    endpoint:
      path: /llm/research/draft
      method: POST
      body:
        prompt: '{{action.payload.prompt}}'
        metadata:
          source: action
          actionId: '{{action.id}}'
          confidence: '{{action.confidence}}'
    ui:
      label: Save as Draft
      variant: secondary
      icon: FileText

types:
  research:
    actions:
      - action: create-draft
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: payload.prompt, op: exists }
`;

function load(text: string): ActionConfig {
  const { config, issues } = parseActionConfig(text);
  expect(issues).toEqual([]);
  if (config === null) throw new Error('config expected');
  return config;
}

const subject = (overrides: Record<string, unknown>): Record<string, unknown> => ({
  id: 'act-1',
  type: 'research',
  status: 'pending',
  confidence: 0.7,
  title: 't',
  payload: {},
  ...overrides,
});

describe('seed example 1: simple status-based action', () => {
  const config = load(EXAMPLE_1);
  it.each([
    ['research, pending', 'research', subject({}), ['approve']],
    ['research, processing', 'research', subject({ status: 'processing' }), []],
    ['todo (no mapping, no fallback)', 'todo', subject({ type: 'todo' }), []],
  ])('%s', (_name, type, s, ids) => {
    expect(visibleActions(config, type, s).map((button) => button.id)).toEqual(ids);
  });

  it('replaces {actionId} and keeps the body', () => {
    expect(visibleActions(config, 'research', subject({ id: 'a b/c' }))).toEqual([
      {
        id: 'approve',
        ui: { label: 'Approve', variant: 'primary', icon: 'Check' },
        endpoint: { path: '/router/actions/a%20b%2Fc', method: 'PATCH', body: { status: 'processing' } },
      },
    ]);
  });
});

describe('seed example 2: multiple actions with complex conditions', () => {
  const config = load(EXAMPLE_2);
  it.each([
    [{ confidence: 0.95 }, ['approve-high-confidence']],
    [{ confidence: 0.9 }, ['review-manual']],
    [{ confidence: 0.7 }, ['review-manual']],
    [{ confidence: 0.5 }, []],
    [{ confidence: 0.3 }, ['reject']],
    [{ confidence: 0 }, ['reject']],
    [{ status: 'failed', confidence: 0.95 }, ['reject']],
    [{ status: 'failed', confidence: 0.3 }, ['reject']],
    [{ status: 'processing', confidence: 0.95 }, []],
    [{ confidence: '0.95' }, []],
    [{ confidence: null }, []],
  ])('%j → %j', (overrides, ids) => {
    expect(visibleActions(config, 'research', subject(overrides)).map((button) => button.id)).toEqual(ids);
  });

  it('gives each button its body and ui', () => {
    const [button] = visibleActions(config, 'research', subject({ id: 42, confidence: 0.2 }));
    expect(button).toEqual({
      id: 'reject',
      ui: { label: 'Reject', variant: 'danger', icon: 'XCircle' },
      endpoint: { path: '/router/actions/42', method: 'PATCH', body: { status: 'rejected' } },
    });
  });
});

describe('seed example 3: action with variable interpolation', () => {
  const config = load(EXAMPLE_3);
  it.each([
    [
      'pending with a prompt',
      subject({ id: 'act-9', confidence: 0.85, payload: { prompt: 'Find papers' } }),
      [{ prompt: 'Find papers', metadata: { source: 'action', actionId: 'act-9', confidence: '0.85' } }],
    ],
    [
      'pending with an empty prompt (exists)',
      subject({ payload: { prompt: '' } }),
      [{ prompt: '', metadata: { source: 'action', actionId: 'act-1', confidence: '0.7' } }],
    ],
    ['pending without a prompt', subject({ payload: {} }), []],
    ['pending with a null prompt', subject({ payload: { prompt: null } }), []],
    ['processing with a prompt', subject({ status: 'processing', payload: { prompt: 'x' } }), []],
  ])('%s', (_name, s, bodies) => {
    const buttons = visibleActions(config, 'research', s);
    expect(buttons.map((button) => button.endpoint?.body)).toEqual(bodies);
    for (const button of buttons) expect(button.endpoint).toMatchObject({ path: '/llm/research/draft', method: 'POST' });
  });
});

const TRIGGER_CONFIG = `
actions:
  run-research:
    trigger:
      serviceId: research-agent
      actionId: '{{payload.actionName}}'
      input:
        prompt: '{{action.payload.prompt}}'
        confidence: '{{action.confidence}}'
        tags: '{{payload.tags}}'
        note: 'for {{id}}'
    ui: { label: Run, variant: success, icon: Play, confirmationMessage: Start the run? }
  delete:
    endpoint: { path: '/router/actions/{actionId}', method: DELETE }
    ui: { label: Delete, variant: danger, icon: Trash2 }
types:
  research:
    actions:
      - action: run-research
        when: { field: payload.prompt, op: exists }
fallback:
  actions:
    - action: delete
`;

describe('trigger actions and fallback', () => {
  const config = load(TRIGGER_CONFIG);

  it('interpolates trigger input in typed mode', () => {
    const s = subject({ confidence: 0.8, payload: { prompt: 'p', tags: ['a'], actionName: 'draft' } });
    expect(visibleActions(config, 'research', s)).toEqual([
      {
        id: 'run-research',
        ui: { label: 'Run', variant: 'success', icon: 'Play', confirmationMessage: 'Start the run?' },
        trigger: { serviceId: 'research-agent', actionId: 'draft', input: { prompt: 'p', confidence: 0.8, tags: ['a'], note: 'for act-1' } },
      },
    ]);
  });

  it('hides a trigger whose interpolated id is not a valid id', () => {
    expect(visibleActions(config, 'research', subject({ payload: { prompt: 'p', actionName: 'no spaces allowed' } }))).toEqual([]);
    expect(visibleActions(config, 'research', subject({ payload: { prompt: 'p' } }))).toEqual([]);
  });

  it.each([['todo'], ['toString'], ['__proto__'], ['constructor'], ['']])('uses the fallback for unknown type %j', (type) => {
    expect(visibleActions(config, type, subject({ id: 'x' }))).toEqual([
      { id: 'delete', ui: { label: 'Delete', variant: 'danger', icon: 'Trash2' }, endpoint: { path: '/router/actions/x', method: 'DELETE' } },
    ]);
  });

  it('uses {actionId} = "" when the subject has no id', () => {
    expect(visibleActions(config, 'todo', {})[0]?.endpoint?.path).toBe('/router/actions/');
  });

  it('returns copies: mutating a button does not change the config', () => {
    const [button] = visibleActions(config, 'todo', subject({}));
    if (button === undefined) throw new Error('button expected');
    button.ui.label = 'changed';
    expect(visibleActions(config, 'todo', subject({}))[0]?.ui.label).toBe('Delete');
  });
});

describe('visibleActions never throws', () => {
  it.each([
    ['null config', null],
    ['empty object', {}],
    ['types not an object', { actions: {}, types: 1 }],
    ['mapping to a missing action', { actions: {}, types: { t: { actions: [{ action: 'toString' }] } } }],
    ['malformed mapping list', { actions: {}, types: { t: { actions: 'x' } } }],
  ])('%s → []', (_name, config) => {
    expect(visibleActions(config as unknown as ActionConfig, 't', {})).toEqual([]);
  });
});
