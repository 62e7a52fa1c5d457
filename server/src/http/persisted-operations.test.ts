import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest, ManifestError, PERSISTED_CODES, resolvePersisted, sha256Hex } from './persisted-operations.js';

const TEXT = '{ __typename }';
const HASH = sha256Hex(TEXT);
const store = (only: boolean) => ({ only, byHash: new Map([[HASH, TEXT]]) });
const codeOf = (r: ReturnType<typeof resolvePersisted>) => (r.ok ? 'ok' : r.error.extensions.code);

describe('resolvePersisted', () => {
  it('swaps a known hash for its text (Apollo extension, documentId, sha256: prefix)', () => {
    expect(resolvePersisted(store(true), { extensions: { persistedQuery: { version: 1, sha256Hash: HASH } } })).toEqual({ ok: true, query: TEXT });
    expect(resolvePersisted(store(false), { documentId: HASH })).toEqual({ ok: true, query: TEXT });
    expect(resolvePersisted(store(true), { documentId: `sha256:${HASH}`, query: 'ignored' })).toEqual({ ok: true, query: TEXT });
  });

  it('refuses unknown and malformed hashes in either mode', () => {
    for (const only of [true, false]) {
      expect(codeOf(resolvePersisted(store(only), { documentId: 'a'.repeat(64) }))).toBe(PERSISTED_CODES.notFound);
      expect(codeOf(resolvePersisted(store(only), { documentId: 'A'.repeat(64) }))).toBe(PERSISTED_CODES.invalid);
      expect(codeOf(resolvePersisted(store(only), { extensions: { persistedQuery: { sha256Hash: 42 } } }))).toBe(PERSISTED_CODES.invalid);
    }
  });

  it('in persisted-only mode accepts a manifest text byte for byte and nothing else', () => {
    expect(resolvePersisted(store(true), { query: TEXT })).toEqual({ ok: true, query: undefined });
    expect(codeOf(resolvePersisted(store(true), { query: `${TEXT} ` }))).toBe(PERSISTED_CODES.required);
    expect(codeOf(resolvePersisted(store(true), {}))).toBe(PERSISTED_CODES.required);
    expect(resolvePersisted(store(false), { query: '{ anything }' })).toEqual({ ok: true, query: undefined });
  });
});

describe('loadManifest', () => {
  const write = (content: string) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'manifest-')), 'm.json');
    writeFileSync(file, content);
    return file;
  };

  it('loads a manifest whose keys are the hashes of their documents', () => {
    expect(loadManifest(write(JSON.stringify({ [HASH]: TEXT }))).get(HASH)).toBe(TEXT);
  });

  it.each([
    ['a wrong hash', JSON.stringify({ [sha256Hex('other')]: TEXT }), /is not the sha256 of its document/],
    ['an uppercase key', JSON.stringify({ [HASH.toUpperCase()]: TEXT }), /lowercase sha256/],
    ['not JSON', '{', /could not read/],
    ['an array', '[]', /invalid at \(root\)/],
  ])('refuses %s', (_name, content, message) => {
    expect(() => loadManifest(write(content))).toThrow(ManifestError);
    expect(() => loadManifest(write(content))).toThrow(message);
  });
});
