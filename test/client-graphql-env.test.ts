// client/src/urql/graphql-env.d.ts is gql.tada's typed introspection of
// schema.graphql; the typed documents are checked against it. Regenerating it
// must change nothing.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('client/src/urql/graphql-env.d.ts', () => {
  it('matches schema.graphql (regenerate with `npm run client:generate`)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'synapse-tada-'));
    try {
      const output = path.join(dir, 'graphql-env.d.ts');
      const cli = path.join(root, 'node_modules', 'gql.tada', 'bin', 'cli.js');
      await promisify(execFile)(process.execPath, [cli, 'generate', 'output', '-c', path.join(root, 'client', 'tsconfig.gql-tada.json'), '-o', output], {
        cwd: root,
      });
      const fresh = await readFile(output, 'utf8');
      const onDisk = await readFile(path.join(root, 'client', 'src', 'urql', 'graphql-env.d.ts'), 'utf8');
      if (fresh !== onDisk) {
        throw new Error('client/src/urql/graphql-env.d.ts is out of date: run `npm run client:generate` (after `npm run schema:print`) and commit the result');
      }
      expect(fresh).toContain("'Query'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
