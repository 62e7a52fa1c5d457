// schema.graphql is the printed, sorted schema; clients and reviewers read it.
import { readFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../server/src/graphql/schema/index.js';

describe('schema.graphql', () => {
  it('matches the schema the gateway serves (regenerate with `npm run schema:print`)', () => {
    const onDisk = readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8');
    const printed = `${printSchema(schema)}\n`;
    if (onDisk !== printed) {
      throw new Error('schema.graphql is out of date: run `npm run schema:print` and commit the result');
    }
    expect(onDisk).toBe(printed);
  });

  it('is sorted lexicographically', () => {
    const typeNames = [...printSchema(schema).matchAll(/^(?:type|input|enum|union|interface|scalar) (\w+)/gm)].map((m) => m[1]!);
    expect(typeNames).toEqual([...typeNames].sort((a, b) => a.localeCompare(b, 'en')));
  });
});
