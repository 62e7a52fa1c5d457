/**
 * Resolves a command's `cwd` under the Axon's root, at run time: lexical checks
 * first (absolute, `..`), then the real location with every symlink followed,
 * so a link inside the root that points out of it is refused too. Pure: the
 * realpath function is injected (it throws for a path that does not exist).
 */
import path from 'node:path';

export type CwdCheck =
  | { ok: true; path: string; relative: string }
  | { ok: false; code: 'invalid_cwd' | 'cwd_outside_root' | 'cwd_missing'; message: string };

export function resolveUnderRoot(cwd: unknown, root: string, realpath: (p: string) => string): CwdCheck {
  if (cwd !== undefined && cwd !== null && typeof cwd !== 'string') return { ok: false, code: 'invalid_cwd', message: 'cwd must be a string' };
  const raw = typeof cwd === 'string' ? cwd.trim() : '';
  if (raw.includes('\u0000')) return { ok: false, code: 'invalid_cwd', message: 'cwd must not contain NUL characters' };
  if (path.isAbsolute(raw)) return { ok: false, code: 'invalid_cwd', message: 'cwd must be relative to the Axon\'s root' };
  const lexical = raw === '' ? '.' : path.normalize(raw).replace(/\/+$/, '') || '.';
  if (lexical === '..' || lexical.startsWith('../')) return { ok: false, code: 'cwd_outside_root', message: 'cwd resolves outside the Axon\'s root' };
  let realRoot: string;
  try {
    realRoot = realpath(root);
  } catch {
    return { ok: false, code: 'cwd_missing', message: 'the Axon\'s root does not exist' };
  }
  let real: string;
  try {
    real = realpath(path.resolve(realRoot, lexical));
  } catch {
    return { ok: false, code: 'cwd_missing', message: `cwd ${JSON.stringify(lexical)} does not exist under the Axon's root` };
  }
  const relative = path.relative(realRoot, real);
  if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
    return { ok: false, code: 'cwd_outside_root', message: `cwd ${JSON.stringify(lexical)} resolves outside the Axon's root (symlinks followed)` };
  }
  return { ok: true, path: real, relative: relative === '' ? '.' : relative };
}
