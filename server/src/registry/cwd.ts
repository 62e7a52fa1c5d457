// Resolves a command's working directory under the repository root.
// Lexical checks first (absolute, `..`), then the real location with symlinks
// followed, so a link inside the root that points out of it is refused too.
// Messages never name an absolute server path.
import { realpathSync } from 'node:fs';
import path from 'node:path';

export type CwdResult = { ok: true; relative: string } | { ok: false; code: 'invalid_cwd' | 'cwd_outside_repo'; message: string };

/** Real path of `target`, following symlinks through its longest existing prefix. */
export type RealPath = (target: string) => string;

export function realPathOfExistingPrefix(target: string): string {
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(existing), ...rest.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return target;
      rest.push(path.basename(existing));
      existing = parent;
    }
  }
}

export function resolveCwd(cwd: string, repoRoot: string, realPath: RealPath = realPathOfExistingPrefix): CwdResult {
  if (cwd.trim() === '') return { ok: true, relative: '.' };
  // Axons may run on Windows, where `\` separates and `C:` roots a path: refuse both.
  if (cwd.includes('\\') || /^[A-Za-z]:/.test(cwd)) {
    return { ok: false, code: 'invalid_cwd', message: 'cwd must be a relative path with / separators (no \\ and no drive letter)' };
  }
  if (path.isAbsolute(cwd)) {
    return { ok: false, code: 'invalid_cwd', message: 'cwd must be a path relative to the repository root' };
  }
  const lexical = path.normalize(cwd).replace(/\/+$/, '') || '.';
  if (lexical === '..' || lexical.startsWith('../')) {
    return { ok: false, code: 'cwd_outside_repo', message: 'cwd resolves outside the repository root' };
  }
  const root = realPath(repoRoot);
  const real = realPath(path.resolve(root, lexical));
  const relative = path.relative(root, real);
  if (relative === '..' || relative.startsWith('../') || path.isAbsolute(relative)) {
    return { ok: false, code: 'cwd_outside_repo', message: 'cwd resolves outside the repository root (symlinks followed)' };
  }
  return { ok: true, relative: lexical };
}
