// Action button configuration through GraphQL on a real gateway: typed issues
// for rejected YAML, per-tenant versions (also under concurrency), and buttons
// evaluated on the server exactly as the client's `visibleActions` does.
import { parseActionConfig, visibleActions, type VisibleAction } from '@synapse-gateway/client/dsl';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  // Room above the DSL's own 1 MiB YAML limit, so that its `too_large` issue is reachable.
  gw = await startTestGateway({ SYNAPSE_MAX_BODY_BYTES: String(4 * 1024 * 1024) });
});
afterAll(async () => {
  await gw?.close();
});

const SET = `mutation Set($yaml: String!) {
  setActionConfig(yaml: $yaml) {
    __typename
    ... on SetActionConfigSuccess { actionConfig { version source config createdAt warnings { path message code severity } } }
    ... on ActionConfigInvalid { code field message issues { path message code severity } }
  }
}`;

const CURRENT = `{ actionConfig { version source config createdAt warnings { path code severity } } }`;

const AVAILABLE = `query Available($type: String!, $subject: JSON!) {
  availableActions(type: $type, subject: $subject) {
    __typename
    ... on AvailableActionsSuccess {
      actions { id ui { label variant icon confirmationMessage } endpoint { path method body } trigger { serviceId actionId input } }
    }
    ... on Error { code field message }
  }
}`;

interface SetResult {
  setActionConfig: {
    __typename: string;
    actionConfig?: { version: number; source: string; config: unknown; createdAt: string; warnings: unknown[] };
    code?: string;
    field?: string;
    message?: string;
    issues?: Array<{ path: string; message: string; code: string; severity: string }>;
  };
}

async function setConfig(yaml: string) {
  const res = await gw.gql<SetResult>(SET, { yaml });
  expect(res.errors).toBeUndefined();
  return res.data!.setActionConfig;
}

/** GraphQL answers absent keys with null; the DSL omits them. */
function fromGraphql(action: Record<string, unknown>): VisibleAction {
  const ui = { ...(action.ui as Record<string, unknown>) };
  if (ui.confirmationMessage === null) delete ui.confirmationMessage;
  const out: Record<string, unknown> = { id: action.id, ui };
  for (const [key, payload] of [['endpoint', 'body'], ['trigger', 'input']] as const) {
    const part = action[key] as Record<string, unknown> | null;
    if (part === null) continue;
    const copy = { ...part };
    if (copy[payload] === null) delete copy[payload];
    out[key] = copy;
  }
  return out as unknown as VisibleAction;
}

async function available(type: string, subject: unknown) {
  const res = await gw.gql<{ availableActions: { __typename: string; actions?: Array<Record<string, unknown>>; code?: string; field?: string } }>(AVAILABLE, {
    type,
    subject,
  });
  expect(res.errors).toBeUndefined();
  return res.data!.availableActions;
}

// Seed 003's examples 1-3, a trigger button, a fallback, and one unknown key (a warning).
const CONFIG = `
actions:
  approve:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body:
        status: processing
    ui: { label: Approve, variant: primary, icon: Check }

  approve-high-confidence:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body: { status: processing }
    ui: { label: Auto-Approve, variant: primary, icon: Zap }

  review-manual:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body: { status: pending_review }
    ui: { label: Review Manually, variant: secondary, icon: Eye }

  reject:
    endpoint:
      path: /router/actions/{actionId}
      method: PATCH
      body: { status: rejected }
    ui: { label: Reject, variant: danger, icon: XCircle, confirmationMessage: Reject this action? }

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
          summary: 'Processing action {{action.id}} with confidence {{action.confidence}}'
    ui: { label: Save as Draft, variant: secondary, icon: FileText }

  run-report:
    trigger:
      serviceId: reports
      actionId: '{{action.payload.reportAction}}'
      input:
        runFor: '{{action.id}}'
        confidence: '{{confidence}}'
        tags: '{{action.payload.tags}}'
        missing: '{{action.payload.nothing}}'
    ui: { label: Run report, variant: success, icon: Play }

  delete:
    endpoint: { path: '/router/actions/{actionId}', method: DELETE }
    ui: { label: Delete, variant: danger, icon: Trash2 }

types:
  research:
    actions:
      - action: approve-high-confidence
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: confidence, op: gt, value: 0.9 }
      - action: review-manual
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: confidence, op: gt, value: 0.5 }
            - { field: confidence, op: lte, value: 0.9 }
      - action: reject
        when:
          any:
            - all:
                - { field: status, op: eq, value: pending }
                - { field: confidence, op: lt, value: 0.5 }
            - { field: status, op: eq, value: failed }
      - action: create-draft
        when:
          all:
            - { field: status, op: eq, value: pending }
            - { field: payload.prompt, op: exists }
  todo:
    actions:
      - action: approve
        when: { field: status, op: eq, value: pending }
      - action: run-report
        when: { field: payload.reportAction, op: exists }
      - action: delete
fallback:
  actions:
    - action: delete
      when: { field: status, op: in, value: [failed, rejected] }
owner: platform-team
`;

const SUBJECTS: Array<[type: string, subject: unknown]> = [
  ['research', { id: 'a1', status: 'pending', confidence: 0.95, payload: { prompt: 'Find papers on CRDTs' } }],
  ['research', { id: 'a2', status: 'pending', confidence: 0.7, payload: {} }],
  ['research', { id: 'a3', status: 'pending', confidence: 0.3, payload: { prompt: null } }],
  ['research', { id: 'a/4 ?', status: 'failed', confidence: 0.99 }],
  ['research', { id: 'a5', status: 'pending', confidence: '0.95', payload: { prompt: 'strict eq: the string is not a number' } }],
  ['research', { id: 'a6', status: 'completed', confidence: 0.8 }],
  ['todo', { id: 't1', status: 'pending', payload: { reportAction: 'weekly_report', tags: ['a', 'b'] }, confidence: 0.5 }],
  ['todo', { id: 't2', status: 'done', payload: { reportAction: 'not a valid id!' } }],
  ['todo', { id: 't3', status: 'pending' }],
  ['calendar', { id: 'c1', status: 'failed' }],
  ['calendar', { id: 'c2', status: 'pending' }],
  ['toString', { id: 'p1', status: 'rejected' }],
  ['', { status: 'failed' }],
  ['research', {}],
  ['todo', [1, 2, 3]],
  ['todo', 'a string subject'],
];

describe('setActionConfig rejects invalid YAML with every issue', () => {
  it('answers ActionConfigInvalid with each issue and its path, and stores nothing', async () => {
    const yaml = `
actions:
  approve:
    endpoint: { path: /x, method: FETCH }
    ui: { label: Approve, variant: loud, icon: Check, colour: red }
types:
  research:
    actions:
      - action: approve
        when: { all: [{ field: status, op: eq, value: pending }, { field: confidence, op: like, value: 1 }] }
      - action: missing
      - action: approve
        conditions: ["status == 'pending'"]
`;
    const result = await setConfig(yaml);
    expect(result.__typename).toBe('ActionConfigInvalid');
    expect(result.code).toBe('invalid_action_config');
    expect(result.field).toBe('yaml');
    const expected = parseActionConfig(yaml).issues.map((issue) => ({ ...issue, severity: issue.severity ?? 'error' }));
    expect(result.issues).toEqual(expected);
    expect(result.issues!.map((issue) => issue.path)).toEqual(
      expect.arrayContaining([
        'actions.approve.endpoint.method',
        'actions.approve.ui.variant',
        'actions.approve.ui.colour',
        'types.research.actions[0].when.all[1].op',
        'types.research.actions[1].action',
        'types.research.actions[2].conditions',
      ]),
    );
    expect(result.issues!.find((issue) => issue.path === 'actions.approve.ui.colour')?.severity).toBe('warning');
    expect((await gw.gql<{ actionConfig: unknown }>(CURRENT)).data?.actionConfig).toBeNull();
  });

  it('reports YAML syntax errors and the 1 MiB limit at path $', async () => {
    const syntax = await setConfig('actions: [\n');
    expect(syntax.__typename).toBe('ActionConfigInvalid');
    expect(syntax.issues![0]).toMatchObject({ path: '$', code: 'yaml_syntax', severity: 'error' });

    const big = await setConfig(`# ${'x'.repeat(1024 * 1024)}\nactions: {}\ntypes: {}\n`);
    expect(big.issues).toEqual([{ path: '$', code: 'too_large', message: expect.stringContaining('1048576'), severity: 'error' }]);

    const notAnObject = await setConfig('- just\n- a list\n');
    expect(notAnObject.issues).toEqual([{ path: '$', code: 'invalid_type', message: expect.any(String), severity: 'error' }]);
  });
});

describe('a valid configuration', () => {
  it('has no configuration and no buttons before the first one', async () => {
    expect((await gw.gql<{ actionConfig: unknown }>(CURRENT)).data?.actionConfig).toBeNull();
    expect(await available('research', { status: 'pending', confidence: 0.95 })).toEqual({ __typename: 'AvailableActionsSuccess', actions: [] });
  });

  it('is stored as version 1, then 2; actionConfig returns the latest with its warnings', async () => {
    const first = await setConfig(CONFIG.replace('Auto-Approve', 'Auto v1'));
    expect(first.__typename).toBe('SetActionConfigSuccess');
    expect(first.actionConfig).toMatchObject({ version: 1, warnings: [{ path: 'owner', code: 'unknown_key', severity: 'warning', message: expect.any(String) }] });

    const second = await setConfig(CONFIG);
    expect(second.actionConfig!.version).toBe(2);
    expect(second.actionConfig!.source).toBe(CONFIG);
    // `config` is the validated configuration: the unknown `owner` key is gone.
    expect(second.actionConfig!.config).toEqual(JSON.parse(JSON.stringify(parseActionConfig(CONFIG).config)));
    expect((second.actionConfig!.config as Record<string, unknown>).owner).toBeUndefined();

    const current = await gw.gql<{ actionConfig: NonNullable<SetResult['setActionConfig']['actionConfig']> }>(CURRENT);
    expect(current.data!.actionConfig).toMatchObject({ version: 2, source: CONFIG, warnings: [{ path: 'owner', code: 'unknown_key', severity: 'warning' }] });
    expect(current.data!.actionConfig.createdAt).toBe(second.actionConfig!.createdAt);
    expect(new Date(current.data!.actionConfig.createdAt).toISOString()).toBe(current.data!.actionConfig.createdAt);

    // Stored as a JSON object (not a JSON string), with the YAML text beside it.
    const rows = await gw.gateway.database.db.execute<{ version: number; kind: string; source_length: number }>(
      sql`select version, jsonb_typeof(config) as kind, length(source) as source_length from action_configs order by version`,
    );
    const list = (Array.isArray(rows) ? rows : (rows as unknown as { rows: unknown[] }).rows) as Array<{ version: number; kind: string; source_length: number }>;
    expect(list.map((r) => [Number(r.version), r.kind])).toEqual([
      [1, 'object'],
      [2, 'object'],
    ]);
  });

  it('shows exactly the buttons visibleActions shows, for every type and subject of the table', async () => {
    const config = parseActionConfig(CONFIG).config!;
    let nonEmpty = 0;
    for (const [type, subject] of SUBJECTS) {
      const expected = visibleActions(config, type, subject);
      if (expected.length > 0) nonEmpty++;
      const answer = await available(type, subject);
      expect(answer.__typename, `${type} ${JSON.stringify(subject)}`).toBe('AvailableActionsSuccess');
      expect(answer.actions!.map(fromGraphql), `${type} ${JSON.stringify(subject)}`).toEqual(expected);
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(8);
  });

  it('interpolates bodies and trigger inputs, expands {actionId}, and uses the fallback', async () => {
    const [draft] = (await available('research', SUBJECTS[0]![1])).actions!.filter((a) => a.id === 'create-draft');
    expect(draft!.endpoint).toEqual({
      path: '/llm/research/draft',
      method: 'POST',
      body: {
        prompt: 'Find papers on CRDTs',
        metadata: { source: 'action', actionId: 'a1', confidence: '0.95', summary: 'Processing action a1 with confidence 0.95' },
      },
    });
    const rejected = (await available('research', SUBJECTS[3]![1])).actions!;
    expect(rejected.map((a) => a.id)).toEqual(['reject']);
    expect(rejected[0]).toMatchObject({ endpoint: { path: '/router/actions/a%2F4%20%3F', method: 'PATCH' }, ui: { confirmationMessage: 'Reject this action?' } });

    const todo = (await available('todo', SUBJECTS[6]![1])).actions!;
    expect(todo.map((a) => a.id)).toEqual(['approve', 'run-report', 'delete']);
    expect(todo[1]).toMatchObject({
      endpoint: null,
      trigger: { serviceId: 'reports', actionId: 'weekly_report', input: { runFor: 't1', confidence: 0.5, tags: ['a', 'b'], missing: null } },
      ui: { variant: 'success', confirmationMessage: null },
    });
    // An invalid interpolated action id drops the trigger button.
    expect((await available('todo', SUBJECTS[7]![1])).actions!.map((a) => a.id)).toEqual(['delete']);

    expect((await available('calendar', { id: 'c1', status: 'failed' })).actions!.map((a) => a.id)).toEqual(['delete']);
    expect((await available('calendar', { id: 'c2', status: 'pending' })).actions).toEqual([]);
  });

  it('refuses a subject over 64 KiB with a typed error', async () => {
    const answer = await available('research', { status: 'pending', blob: 'x'.repeat(64 * 1024) });
    expect(answer).toMatchObject({ __typename: 'ValidationError', code: 'subject_too_large', field: 'subject' });
    const fits = await available('research', { status: 'pending', blob: 'x'.repeat(60 * 1024) });
    expect(fits.__typename).toBe('AvailableActionsSuccess');
  });

  it('accepts the subject as a literal in the document too', async () => {
    const res = await gw.gql<{ availableActions: { actions: Array<{ id: string }> } }>(
      '{ availableActions(type: "research", subject: { id: "lit", status: "failed" }) { ... on AvailableActionsSuccess { actions { id } } } }',
    );
    expect(res.data!.availableActions.actions.map((a) => a.id)).toEqual(['reject']);
  });
});

describe('concurrency', () => {
  it('gives concurrent setActionConfig calls distinct consecutive versions', async () => {
    const before = (await gw.gql<{ actionConfig: { version: number } }>(CURRENT)).data!.actionConfig.version;
    const count = 12;
    const results = await Promise.all(Array.from({ length: count }, (_, i) => setConfig(CONFIG.replace('Auto-Approve', `Auto ${i}`))));
    const versions = results.map((r) => r.actionConfig!.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: count }, (_, i) => before + 1 + i));

    // The latest version is the one served, and its buttons come from its own text.
    const latest = results.find((r) => r.actionConfig!.version === before + count)!.actionConfig!;
    const current = (await gw.gql<{ actionConfig: { version: number; source: string } }>(CURRENT)).data!.actionConfig;
    expect(current).toMatchObject({ version: latest.version, source: latest.source });
    const label = /Auto \d+/.exec(latest.source)![0];
    const buttons = await available('research', SUBJECTS[0]![1]);
    expect(buttons.actions![0]).toMatchObject({ id: 'approve-high-confidence', ui: { label } });
  });
});
