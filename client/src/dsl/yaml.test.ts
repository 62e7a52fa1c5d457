import { describe, expect, it } from 'vitest';
import { loadYaml } from './yaml.js';

describe('loadYaml', () => {
  it('parses one document', () => {
    expect(loadYaml('a: [1, two]')).toEqual({ value: { a: [1, 'two'] }, issues: [] });
  });

  it.each([
    ['a syntax error', 'a: [1'],
    ['two documents', 'a: 1\n---\nb: 2'],
    ['a duplicate key', 'a: 1\na: 2'],
  ])('reports %s at $', (_name, text) => {
    const result = loadYaml(text);
    expect(result.value).toBeUndefined();
    expect(result.issues[0]).toMatchObject({ path: '$', code: 'yaml_syntax' });
  });

  it('caps cascading errors', () => {
    const result = loadYaml('a: [1\n'.repeat(50));
    expect(result.issues.length).toBeLessThanOrEqual(6);
  });

  it('measures the limit in UTF-8 bytes', () => {
    const text = `a: "${'é'.repeat(600 * 1024)}"`;
    expect(loadYaml(text).issues).toEqual([expect.objectContaining({ code: 'too_large' })]);
  });
});
