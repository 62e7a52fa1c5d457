// Fuzzes the REST JSON routes of a real gateway with fast-check: 10,000
// requests with arbitrary JSON, near-valid bodies with hostile fields (NUL
// bytes, SQL-looking text, huge numbers, deep nesting) and hostile path
// segments. No answer may be a 5xx or leak internals, no rejection may go
// unhandled, and the gateway must still answer afterwards.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { LEAKS } from './helpers/transports.js';

let gw: TestGateway;
let existingId: string;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  // Rate limits off: this test is about inputs, not volume.
  gw = await startTestGateway({ SYNAPSE_TRIGGER_RATE_PER_IP: '0', SYNAPSE_TRIGGER_RATE_PER_KEY: '0', LOG_LEVEL: 'warn' });
  const created = await gw.rest('POST', '/api/actions', { title: 'fuzz target', kind: 'command', spec: { cmd: 'true' } });
  existingId = String((created.body.action as { id: string }).id);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await gw?.close();
});

// Strings that have broken parsers and queries elsewhere.
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    "' OR 1=1 --",
    "'); DROP TABLE runs; --",
    '%00',
    '../../etc/passwd',
    '\uD800',
    '\uFFFF',
    'trn:synapse:default:action/x/y',
    '{{constructor.constructor("return process")()}}',
    '__proto__',
    'x'.repeat(5_000),
  ),
);
const hugeNumber = fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, -0, 0.1, 1e-320);
const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostile,
    hugeNumber,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(hostile, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** An object with the route's real field names, each with a hostile or arbitrary value. */
const near = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, fc.oneof(v, anyValue)])), { requiredKeys: [] });

const actionBody = near({ title: hostile, kind: fc.constantFrom('command', 'prompt'), spec: near({ cmd: hostile, prompt: hostile, cwd: hostile, timeoutS: hugeNumber }), enabled: fc.boolean() });
const triggerBody = near({ input: anyValue, idempotencyKey: hostile });
const commandBody = near({
  schemaVersion: fc.constant('1.1.0'),
  id: fc.uuid(),
  timestamp: fc.constant(new Date().toISOString()),
  command: fc.constantFrom('synapse.action.execute', 'synapse.action.cancel'),
  source: hostile,
  target: hostile,
  tenant: fc.constantFrom('default', 'other'),
  parameters: near({ input: anyValue }),
  deadline: hostile,
  idempotencyKey: hostile,
});
const eventBody = near({
  specversion: fc.constant('1.0'),
  id: fc.uuid(),
  source: fc.oneof(hostile, fc.constant('trn:synapse:default:service/x')),
  type: fc.constantFrom('aionix.openact.action.accepted', 'aionix.openact.action.output', 'aionix.openact.action.succeeded'),
  time: fc.oneof(hostile, fc.constant(new Date().toISOString())),
  data: anyValue,
  aionixSchemaVersion: fc.constant('1.1.0'),
  tenant: hostile,
  runId: fc.oneof(fc.uuid(), hostile),
  traceId: hostile,
  correlationId: hostile,
});

/** A body: JSON of a near-valid or arbitrary value, or raw text that may not be JSON at all. */
const body = (near: fc.Arbitrary<unknown>) =>
  fc.oneof(
    near.map((v) => JSON.stringify(v)),
    anyValue.map((v) => JSON.stringify(v) ?? 'null'),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.constantFrom('', '{', '{"a":', '[', 'null', '"', '\u0000', '{"__proto__": {"polluted": true}}', '1e999', `${'['.repeat(5_000)}${']'.repeat(5_000)}`),
  );

const segment = fc.oneof(
  fc.oneof(hostile, fc.constantFrom('x', 'restart')).map((s) => encodeURIComponent(s.toWellFormed()) || 'x'),
  // Already encoded: invalid UTF-8, an encoded slash, a NUL, a dangling escape.
  fc.constantFrom('%ED%A0%80', '%2F..%2F', '%00', '%', '%zz', '..'),
);

interface Case {
  method: string;
  path: string;
  body: string;
}

const cases: fc.Arbitrary<Case> = fc.oneof(
  body(actionBody).map((b) => ({ method: 'POST', path: '/api/actions', body: b })),
  fc.tuple(fc.oneof(fc.constant<string | null>(null), segment), body(actionBody)).map(([id, b]) => ({ method: 'PUT', path: `/api/actions/${id ?? existingId}`, body: b })),
  fc.tuple(segment, segment, body(triggerBody)).map(([s, a, b]) => ({ method: 'POST', path: `/api/v1/services/${s}/actions/${a}`, body: b })),
  fc.tuple(fc.oneof(segment, fc.constant('trn:synapse:default:action/x/restart')), body(commandBody)).map(([trn, b]) => ({ method: 'POST', path: `/actions/${trn}/execute?wait=0`, body: b })),
  body(eventBody).map((b) => ({ method: 'POST', path: '/api/v1/events', body: b })),
);

async function send(c: Case): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.url}${c.path}`, { method: c.method, headers: { 'content-type': 'application/json' }, body: c.body });
  return { status: res.status, text: await res.text() };
}

describe('REST fuzz', () => {
  it('answers 10,000 hostile requests without a 5xx, a leak or an unhandled rejection', async () => {
    const statuses = new Map<number, number>();
    // 1,000 runs of 10 concurrent requests: 10,000 cases, shrinking still works on the batch.
    await fc.assert(
      fc.asyncProperty(fc.array(cases, { minLength: 10, maxLength: 10 }), async (batch) => {
        const answers = await Promise.all(batch.map(send));
        answers.forEach((answer, i) => {
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status >= 500) throw new Error(`${batch[i]!.method} ${batch[i]!.path} answered ${answer.status}: ${answer.text}`);
          if (LEAKS.test(answer.text)) throw new Error(`${batch[i]!.method} ${batch[i]!.path} leaked: ${answer.text}`);
          try {
            JSON.parse(answer.text);
          } catch {
            throw new Error(`${batch[i]!.method} ${batch[i]!.path} answered ${answer.status} with no JSON: ${JSON.stringify(answer.text)}`);
          }
        });
      }),
      { numRuns: 1_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
    );
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(unhandled).toEqual([]);
    expect(await gw.rest('GET', '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await gw.gql('{ __typename }')).toEqual({ status: 200, data: { __typename: 'Query' } });
    // The definition under PUT fuzz is still a definition (updated or not).
    expect((await gw.rest('GET', `/api/actions/${existingId}`)).status).toBe(200);
  }, 120_000);

  it('still creates and triggers normally afterwards', async () => {
    const created = await gw.rest('POST', '/api/actions', { title: `after fuzz ${randomUUID()}`, kind: 'command', spec: { cmd: 'true' } });
    expect(created.status).toBe(200);
  });
});
