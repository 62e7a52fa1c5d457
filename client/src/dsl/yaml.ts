/**
 * YAML loading with the DSL's limits; errors come back as issues at path `$`.
 */
import { parseDocument } from 'yaml';
import { MAX_YAML_ALIASES, MAX_YAML_BYTES } from './limits.js';
import type { DslIssue } from './types.js';

/** UTF-8 length without encoding when the answer is obvious either way. */
function exceedsBytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return new TextEncoder().encode(text).length > limit;
}

function firstLine(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  return line.trim();
}

const MAX_REPORTED_YAML_ERRORS = 5;

export interface YamlResult {
  value: unknown;
  issues: DslIssue[];
}

/** Parses one YAML document. `issues` is non-empty exactly when the text is unusable. */
export function loadYaml(text: string): YamlResult {
  if (exceedsBytes(text, MAX_YAML_BYTES)) {
    return {
      value: undefined,
      issues: [{ path: '$', code: 'too_large', message: `YAML text exceeds ${MAX_YAML_BYTES} bytes` }],
    };
  }
  try {
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
      // The parser keeps going after an error and often cascades; the first few are the useful ones.
      const issues: DslIssue[] = doc.errors
        .slice(0, MAX_REPORTED_YAML_ERRORS)
        .map((error) => ({ path: '$', code: 'yaml_syntax', message: firstLine(error.message) }));
      if (doc.errors.length > MAX_REPORTED_YAML_ERRORS) {
        issues.push({ path: '$', code: 'yaml_syntax', message: `${doc.errors.length - MAX_REPORTED_YAML_ERRORS} more YAML errors omitted` });
      }
      return { value: undefined, issues };
    }
    return { value: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) as unknown, issues: [] };
  } catch (error) {
    // toJS throws when aliases expand beyond maxAliasCount; deep nesting can overflow the stack.
    const message = error instanceof Error ? firstLine(error.message) : 'unreadable YAML';
    return { value: undefined, issues: [{ path: '$', code: 'yaml_syntax', message }] };
  }
}
