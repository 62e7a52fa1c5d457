import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearerToken, formatSecret, hashSecret, newSecret, parseSecret, secretMatches } from './secrets.js';
import { parseScopes, SCOPES } from './scopes.js';

const ID = '0194b5a2-7c1e-7a00-8000-0123456789ab';

describe('secrets', () => {
  it('formats and parses a key, and checks it against its salted hash', () => {
    const made = newSecret((n) => randomBytes(n));
    const text = formatSecret('sgk', ID, made.secret);
    expect(text).toMatch(/^sgk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    const parsed = parseSecret(text);
    expect(parsed).toEqual({ kind: 'sgk', id: ID, secret: made.secret });
    expect(secretMatches(parsed!.secret, made)).toBe(true);
    expect(secretMatches(`${parsed!.secret.slice(0, -1)}A`, made)).toBe(made.secret.endsWith('A'));
    expect(made.hash).not.toContain(made.secret);
  });

  it('gives two keys with the same secret different hashes (per-key salt)', () => {
    expect(hashSecret('s', 'salt-a')).not.toBe(hashSecret('s', 'salt-b'));
  });

  it.each([
    ['', 'empty'],
    ['sgk_', 'no id'],
    [`sgx_${'0'.repeat(32)}_${'a'.repeat(43)}`, 'unknown kind'],
    [`sgk_${'0'.repeat(31)}_${'a'.repeat(43)}`, 'short id'],
    [`sgk_${'0'.repeat(32)}_${'a'.repeat(42)}`, 'short secret'],
    [`sgk_${'0'.repeat(32)}_${'a'.repeat(42)}'`, 'quote'],
    [`sgk_${'0'.repeat(32)}_${'a'.repeat(42)}\0`, 'NUL byte'],
    ['x'.repeat(10_000), 'huge'],
  ])('rejects %j (%s)', (value) => {
    expect(parseSecret(value)).toBeNull();
  });

  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc ', 'abc'],
    ['Basic abc', null],
    ['Bearer', null],
    ['Bearer a b', null],
    [undefined, null],
  ])('reads the bearer token of %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

describe('scopes', () => {
  it('expands all and reports unknown names', () => {
    expect(parseScopes(['all']).scopes).toEqual([...SCOPES]);
    expect(parseScopes(['runs:read', 'runs:read', 'nope'])).toEqual({ scopes: ['runs:read'], unknown: ['nope'] });
  });
});
