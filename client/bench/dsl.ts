/**
 * Benchmark: condition evaluation throughput of the DSL against json-logic-js,
 * json-logic-engine (interpreted and built), sift and mingo.
 *
 * Run with `npm run bench:dsl`. 20 trees drawn from the seed's examples (depth 1–4)
 * are evaluated against 10,000 deterministic pseudo-random subjects shaped like
 * the seed's Action object. Every rule is translated once, outside the timed loop,
 * and every engine is checked against evaluateCondition on every (tree, subject)
 * pair before timing.
 *
 * Subjects avoid coercion traps so that all engines can agree: `confidence` is
 * always a number (json-logic's `<` would treat a missing value as 0), fields
 * compared with eq/neq are never arrays (Mongo's $eq matches array elements), and
 * "exists" is translated as "!= null" / {$ne: null} (Mongo's $exists matches null).
 */
import jsonLogic from 'json-logic-js';
import { LogicEngine } from 'json-logic-engine';
import { Query } from 'mingo';
import siftModule from 'sift';
import { compileCondition, evaluateCondition } from '@synapse-gateway/client/dsl';
import type { ConditionTree, Predicate } from '@synapse-gateway/client/dsl';

// sift is CommonJS whose module.exports is the query function; TypeScript (NodeNext) types the default import as the module.
const sift = siftModule as unknown as (query: Record<string, unknown>) => (item: unknown) => boolean;

const SUBJECTS = 10_000;
const ROUNDS = 5;

// ---------------------------------------------------------------------------
// Trees (from the seed's examples; depth 1 to 4).

const p = (field: string, op: Predicate['op'], value?: unknown): Predicate => (value === undefined ? { field, op } : { field, op, value });

const TREES: ConditionTree[] = [
  p('status', 'eq', 'pending'),
  p('confidence', 'gt', 0.8),
  p('status', 'in', ['pending', 'processing']),
  p('payload.prompt', 'exists'),
  p('payload.optional', 'exists', false),
  p('status', 'nin', ['failed', 'rejected']),
  { not: p('status', 'eq', 'rejected') },
  { all: [p('status', 'eq', 'pending'), p('confidence', 'gt', 0.8)] },
  { any: [p('status', 'eq', 'pending'), p('status', 'eq', 'processing')] },
  { all: [p('status', 'eq', 'pending'), p('payload.prompt', 'exists')] },
  { all: [p('status', 'eq', 'pending'), p('confidence', 'gt', 0.9)] },
  { all: [p('status', 'eq', 'pending'), p('confidence', 'gt', 0.5), p('confidence', 'lte', 0.9)] },
  { any: [{ all: [p('status', 'eq', 'pending'), p('confidence', 'lt', 0.5)] }, p('status', 'eq', 'failed')] },
  {
    all: [
      p('type', 'eq', 'research'),
      { any: [p('status', 'eq', 'pending'), { all: [p('status', 'eq', 'processing'), p('confidence', 'gt', 0.9)] }] },
    ],
  },
  { all: [p('type', 'eq', 'research'), p('status', 'neq', 'completed')] },
  { any: [p('confidence', 'gte', 0.95), { all: [p('payload.tags.0', 'eq', 'ai'), { not: p('status', 'eq', 'failed') }] }] },
  { all: [p('type', 'in', ['research', 'todo']), p('confidence', 'lt', 0.3)] },
  { not: { any: [p('status', 'eq', 'failed'), p('status', 'eq', 'rejected')] } },
  { all: [p('payload.prompt', 'exists', true), { any: [p('type', 'eq', 'research'), p('type', 'eq', 'note')] }, p('confidence', 'gt', 0.6)] },
  {
    any: [
      { all: [p('type', 'eq', 'todo'), p('status', 'eq', 'pending')] },
      { all: [p('type', 'eq', 'research'), { any: [p('status', 'eq', 'processing'), p('confidence', 'gte', 0.99)] }] },
    ],
  },
];

// ---------------------------------------------------------------------------
// Subjects (mulberry32: small, seeded, deterministic).

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(0x5eed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const TYPES = ['research', 'todo', 'note', 'link', 'calendar', 'reminder', 'unclassified'] as const;
const STATUSES = ['pending', 'processing', 'completed', 'failed', 'rejected'] as const;
const TAGS = ['ai', 'mqtt', 'urgent', 'later'] as const;

function makeSubject(i: number): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    tags: Array.from({ length: Math.floor(random() * 4) }, () => pick(TAGS)),
    metadata: { name: `n${i}`, score: Math.round(random() * 100) },
  };
  const prompt = random();
  if (prompt < 0.7) payload.prompt = `prompt ${i}`;
  else if (prompt < 0.8) payload.prompt = null;
  const optional = random();
  if (optional < 0.2) payload.optional = 'x';
  else if (optional < 0.3) payload.optional = null;
  return {
    id: `act-${i}`,
    userId: `user-${i % 97}`,
    commandId: `cmd-${i}`,
    type: pick(TYPES),
    confidence: Math.round(random() * 100) / 100,
    title: `Action ${i}`,
    status: pick(STATUSES),
    payload,
    createdAt: '2025-01-01T00:00:00Z',
    updatedAt: '2025-01-01T00:00:00Z',
  };
}

const subjects = Array.from({ length: SUBJECTS }, (_, i) => makeSubject(i));

// ---------------------------------------------------------------------------
// Translations.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPredicate(tree: ConditionTree): tree is Predicate {
  return 'field' in tree;
}

function toJsonLogic(tree: ConditionTree): Json {
  if ('all' in tree) return { and: tree.all.map(toJsonLogic) };
  if ('any' in tree) return { or: tree.any.map(toJsonLogic) };
  if ('not' in tree) return { '!': toJsonLogic(tree.not) };
  const v = { var: tree.field };
  const value = tree.value as Json;
  switch (tree.op) {
    case 'eq':
      return { '===': [v, value] };
    case 'neq':
      return { '!==': [v, value] };
    case 'gt':
      return { '>': [v, value] };
    case 'gte':
      return { '>=': [v, value] };
    case 'lt':
      return { '<': [v, value] };
    case 'lte':
      return { '<=': [v, value] };
    case 'in':
      return { in: [v, value] };
    case 'nin':
      return { '!': { in: [v, value] } };
    case 'exists':
      // Loose != null: true for anything but null/undefined (json-logic's var gives null when missing).
      return tree.value === false ? { '==': [v, null] } : { '!=': [v, null] };
  }
}

function toMongo(tree: ConditionTree): Record<string, unknown> {
  if ('all' in tree) return { $and: tree.all.map(toMongo) };
  if ('any' in tree) return { $or: tree.any.map(toMongo) };
  if ('not' in tree) return { $nor: [toMongo(tree.not)] };
  if (!isPredicate(tree)) throw new Error('unreachable');
  const operator = { eq: '$eq', neq: '$ne', gt: '$gt', gte: '$gte', lt: '$lt', lte: '$lte', in: '$in', nin: '$nin' } as const;
  if (tree.op === 'exists') return { [tree.field]: tree.value === false ? { $eq: null } : { $ne: null } };
  return { [tree.field]: { [operator[tree.op]]: tree.value } };
}

// ---------------------------------------------------------------------------
// Engines: each gives one (subject) => boolean per tree, prepared outside the timed loop.

type Tester = (subject: Record<string, unknown>) => boolean;
interface Engine {
  name: string;
  testers: Tester[];
}

const engine = new LogicEngine();
const engines: Engine[] = [
  { name: 'synapse compileCondition', testers: TREES.map((tree) => compileCondition(tree)) },
  { name: 'synapse compileCondition (codegen)', testers: TREES.map((tree) => compileCondition(tree, { codegen: true })) },
  { name: 'synapse evaluateCondition', testers: TREES.map((tree) => (s: Record<string, unknown>) => evaluateCondition(tree, s)) },
  {
    name: 'json-logic-js',
    testers: TREES.map((tree) => {
      const rule = toJsonLogic(tree) as jsonLogic.RulesLogic;
      return (s: Record<string, unknown>) => Boolean(jsonLogic.apply(rule, s));
    }),
  },
  {
    name: 'json-logic-engine (interpreted)',
    testers: TREES.map((tree) => {
      const rule = toJsonLogic(tree);
      return (s: Record<string, unknown>) => Boolean(engine.run(rule, s));
    }),
  },
  {
    name: 'json-logic-engine (built)',
    testers: TREES.map((tree) => {
      const built = engine.build(toJsonLogic(tree)) as (data: unknown) => unknown;
      return (s: Record<string, unknown>) => Boolean(built(s));
    }),
  },
  { name: 'sift', testers: TREES.map((tree) => sift(toMongo(tree))) },
  {
    name: 'mingo',
    testers: TREES.map((tree) => {
      const query = new Query(toMongo(tree));
      return (s: Record<string, unknown>) => query.test(s);
    }),
  },
];

// ---------------------------------------------------------------------------
// Agreement check, then timing.

const expected = TREES.map((tree) => subjects.map((s) => evaluateCondition(tree, s)));
const trueShare = expected.flat().filter(Boolean).length / (TREES.length * SUBJECTS);
process.stderr.write(`${TREES.length} trees × ${SUBJECTS} subjects (${(trueShare * 100).toFixed(1)}% true)\n`);

const disagreements = new Map<string, number>();
for (const { name, testers } of engines) {
  let count = 0;
  testers.forEach((test, t) => {
    subjects.forEach((s, i) => {
      if (test(s) !== expected[t]?.[i]) count++;
    });
  });
  disagreements.set(name, count);
  process.stderr.write(`checked ${name}: ${count} disagreements\n`);
}

let sink = 0;
function round(testers: Tester[]): number {
  const start = performance.now();
  let hits = 0;
  for (let t = 0; t < testers.length; t++) {
    const test = testers[t] as Tester;
    for (let i = 0; i < subjects.length; i++) if (test(subjects[i] as Record<string, unknown>)) hits++;
  }
  const elapsed = performance.now() - start;
  sink += hits;
  return elapsed;
}

const evaluations = TREES.length * SUBJECTS;
const results: Array<{ name: string; perSecond: number }> = [];
for (const { name, testers } of engines) {
  round(testers); // warm-up
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) times.push(round(testers));
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] as number;
  const perSecond = evaluations / (median / 1000);
  results.push({ name, perSecond });
  process.stderr.write(`timed ${name}: median ${median.toFixed(1)} ms per ${evaluations} evaluations\n`);
}

const baseline = results.find((r) => r.name === 'json-logic-js')?.perSecond ?? 1;
const format = (n: number): string => Math.round(n).toLocaleString('en-US');
const rows = results.map((r) => [r.name, format(r.perSecond), `${(r.perSecond / baseline).toFixed(2)}×`, String(disagreements.get(r.name) ?? 0)]);
const header = ['engine', 'evaluations/s', 'vs json-logic-js', 'disagreements'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
const line = (cells: string[]): string => `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join(' | ')} |`;
console.log(`Node ${process.version}, ${TREES.length} trees × ${SUBJECTS} subjects, median of ${ROUNDS} rounds after warm-up`);
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const row of rows) console.log(line(row));
if (sink < 0) console.log(sink); // keeps the hit counter observable
