/**
 * Converts the old string conditions (`"status == 'pending'"`) into `when` trees.
 *
 * Grammar of one condition:  field op value
 *   field  dot path of [A-Za-z0-9_$-] segments
 *   op     == | != | > | >= | < | <= | in | not in
 *   value  'single' or "double" quoted string (escapes \\ \' \" \n \r \t \b \f \/ \uXXXX),
 *          number (optionally negative / decimal / exponent), true, false, null,
 *          or for in / not in a bracketed list of those: ['a', "b", 1]
 */
import { joinIndex, joinKey } from './path.js';
import type { DslIssue, MigrationResult, Predicate, PredicateOperator } from './types.js';
import { loadYaml } from './yaml.js';

type RawRecord = Record<string, unknown>;

function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const OPERATORS: ReadonlyArray<[string, PredicateOperator]> = [
  // Longest first so that `>=` is not read as `>`.
  ['==', 'eq'],
  ['!=', 'neq'],
  ['>=', 'gte'],
  ['<=', 'lte'],
  ['>', 'gt'],
  ['<', 'lt'],
];

const FIELD = /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*/;
const NUMBER = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const WORD_OP = /^(not\s+in|in)(?=[\s[])/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '/': '/' };

class ParseError extends Error {}

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] as string)) this.pos++;
  }

  rest(): string {
    return this.text.slice(this.pos);
  }

  fail(message: string): never {
    throw new ParseError(`${message} at column ${this.pos + 1}`);
  }

  string(): string {
    const quote = this.text[this.pos];
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos] as string;
      if (ch === quote) {
        this.pos++;
        return out;
      }
      if (ch === '\\') {
        const next = this.text[this.pos + 1];
        if (next === 'u') {
          const hex = this.text.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
          continue;
        }
        const mapped = next === undefined ? undefined : ESCAPES[next];
        if (mapped === undefined) this.fail(`unknown escape \\${next ?? ''}`);
        out += mapped;
        this.pos += 2;
        continue;
      }
      out += ch;
      this.pos++;
    }
    return this.fail('unterminated string');
  }

  scalar(): unknown {
    const ch = this.text[this.pos];
    if (ch === "'" || ch === '"') return this.string();
    const rest = this.rest();
    const number = NUMBER.exec(rest);
    if (number) {
      this.pos += number[0].length;
      return Number(number[0]);
    }
    for (const [word, value] of [['true', true], ['false', false], ['null', null]] as const) {
      if (rest.startsWith(word) && !/[A-Za-z0-9_$-]/.test(rest[word.length] ?? '')) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(ch === undefined ? 'missing value' : 'expected a quoted string, a number, true, false or null');
  }

  list(): unknown[] {
    this.pos++; // [
    const items: unknown[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipSpace();
      items.push(this.scalar());
      this.skipSpace();
      const ch = this.text[this.pos];
      this.pos++;
      if (ch === ']') return items;
      if (ch !== ',') this.fail('expected `,` or `]` in list');
    }
  }
}

/** Parses one legacy condition string into a predicate; throws ParseError (caught by the caller). */
function parseLegacyCondition(text: string): Predicate {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  const field = FIELD.exec(scanner.rest());
  if (!field) return scanner.fail('expected a field name');
  scanner.pos += field[0].length;
  scanner.skipSpace();

  let op: PredicateOperator | undefined;
  const word = WORD_OP.exec(scanner.rest());
  if (word) {
    op = (word[1] as string).startsWith('not') ? 'nin' : 'in';
    scanner.pos += (word[1] as string).length;
  } else {
    for (const [symbol, name] of OPERATORS) {
      if (scanner.rest().startsWith(symbol)) {
        op = name;
        scanner.pos += symbol.length;
        break;
      }
    }
  }
  if (op === undefined) return scanner.fail('expected an operator (==, !=, >, >=, <, <=, in, not in)');
  scanner.skipSpace();

  let value: unknown;
  if (op === 'in' || op === 'nin') {
    if (scanner.text[scanner.pos] !== '[') scanner.fail(`\`${op === 'in' ? 'in' : 'not in'}\` needs a [list]`);
    value = scanner.list();
  } else {
    value = scanner.scalar();
    if ((op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') && typeof value !== 'number') {
      scanner.fail('comparisons need a number');
    }
  }
  scanner.skipSpace();
  if (scanner.pos < text.length) scanner.fail('unexpected text after the value');
  return { field: field[0], op, value };
}

/** Parses one legacy condition; exported for tooling and tests. */
export function parseLegacyConditionString(text: string): { predicate: Predicate | null; error: string | null } {
  try {
    return { predicate: parseLegacyCondition(text), error: null };
  } catch (error) {
    return { predicate: null, error: error instanceof ParseError ? error.message : 'unreadable condition' };
  }
}

function migrateMapping(mapping: unknown, path: string, issues: DslIssue[]): unknown {
  if (!isRecord(mapping) || !Object.hasOwn(mapping, 'conditions')) return mapping;
  const conditions = mapping.conditions;
  const at = joinKey(path, 'conditions');
  if (!Array.isArray(conditions)) {
    issues.push({ path: at, code: 'invalid_conditions', message: '`conditions` must be a list of strings' });
    return mapping;
  }
  const predicates: Predicate[] = [];
  let failed = false;
  conditions.forEach((condition: unknown, index) => {
    const itemPath = joinIndex(at, index);
    if (typeof condition !== 'string') {
      issues.push({ path: itemPath, code: 'invalid_condition', message: 'a legacy condition must be a string' });
      failed = true;
      return;
    }
    const parsed = parseLegacyConditionString(condition);
    if (parsed.predicate === null) {
      issues.push({ path: itemPath, code: 'unparsable_condition', message: `cannot convert "${condition.slice(0, 200)}": ${parsed.error ?? ''}` });
      failed = true;
      return;
    }
    predicates.push(parsed.predicate);
  });
  // Dropping an unreadable condition would show the button more often; keep the mapping as is.
  if (failed) return mapping;

  const { conditions: _dropped, ...rest } = mapping;
  const out: RawRecord = Object.fromEntries(Object.entries(rest));
  const parts: unknown[] = Object.hasOwn(mapping, 'when') && mapping.when !== undefined ? [mapping.when, ...predicates] : predicates;
  if (parts.length > 0) out.when = { all: parts };
  else delete out.when;
  return out;
}

function migrateTypeMapping(value: unknown, path: string, issues: DslIssue[]): unknown {
  if (!isRecord(value) || !Array.isArray(value.actions)) return value;
  const list = value.actions.map((mapping: unknown, index) => migrateMapping(mapping, joinIndex(joinKey(path, 'actions'), index), issues));
  return Object.fromEntries([...Object.entries(value), ['actions', list]]);
}

/**
 * Converts legacy `conditions: [...]` string lists in every type mapping (and
 * the fallback) into `when: { all: [...] }` trees. Accepts YAML text or an
 * object; returns a new object (unchanged branches are shared) and never
 * mutates the input. Never throws.
 */
export function migrateLegacyConditions(config: unknown): MigrationResult {
  try {
    let root = config;
    if (typeof config === 'string') {
      const loaded = loadYaml(config);
      if (loaded.issues.length > 0) return { config: null, issues: loaded.issues };
      root = loaded.value;
    }
    if (!isRecord(root)) {
      return { config: null, issues: [{ path: '$', code: 'invalid_type', message: 'the configuration must be an object' }] };
    }
    const issues: DslIssue[] = [];
    const out: RawRecord = Object.fromEntries(Object.entries(root));
    if (isRecord(root.types)) {
      const types = root.types;
      out.types = Object.fromEntries(Object.keys(types).map((type) => [type, migrateTypeMapping(types[type], joinKey('types', type), issues)]));
    }
    if (Object.hasOwn(root, 'fallback')) out.fallback = migrateTypeMapping(root.fallback, 'fallback', issues);
    return { config: out, issues };
  } catch (error) {
    const message = error instanceof Error ? error.message : 'unreadable configuration';
    return { config: null, issues: [{ path: '$', code: 'unreadable', message }] };
  }
}
