import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveUnderRoot } from './cwd.js';

// A fake filesystem: /srv/root with sub/ (a directory), out → /etc (a symlink out), in → /srv/root/sub.
const LINKS: Record<string, string> = { '/srv/root/out': '/etc', '/srv/root/in': '/srv/root/sub', '/srv/link-to-root': '/srv/root' };
const EXISTS = new Set(['/srv', '/srv/root', '/srv/root/sub', '/srv/root/sub/deeper', '/etc']);
function realpath(p: string): string {
  let current = '/';
  for (const part of path.resolve(p).split('/').filter(Boolean)) {
    current = path.join(current, part);
    while (LINKS[current]) current = LINKS[current]!;
    if (!EXISTS.has(current)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  }
  return current;
}

describe('resolveUnderRoot', () => {
  it.each([
    ['', '/srv/root', '.'],
    ['.', '/srv/root', '.'],
    ['sub', '/srv/root/sub', 'sub'],
    ['sub/deeper/', '/srv/root/sub/deeper', 'sub/deeper'],
    ['sub/../sub', '/srv/root/sub', 'sub'],
    ['in', '/srv/root/sub', 'sub'],
  ])('accepts %j', (cwd, real, relative) => {
    expect(resolveUnderRoot(cwd, '/srv/root', realpath)).toEqual({ ok: true, path: real, relative });
  });
  it('accepts a root that is itself reached through a symlink', () => {
    expect(resolveUnderRoot('sub', '/srv/link-to-root', realpath)).toMatchObject({ ok: true, path: '/srv/root/sub' });
  });
  it.each([
    ['/etc', 'invalid_cwd'],
    ['..', 'cwd_outside_root'],
    ['sub/../../x', 'cwd_outside_root'],
    ['out', 'cwd_outside_root'],
    ['missing', 'cwd_missing'],
    [3, 'invalid_cwd'],
    ['a\u0000b', 'invalid_cwd'],
  ])('refuses %j with %s', (cwd, code) => {
    expect(resolveUnderRoot(cwd, '/srv/root', realpath)).toMatchObject({ ok: false, code });
  });
});
