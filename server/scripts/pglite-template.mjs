// Runs after `npm install`: initialises one empty embedded database and keeps
// it as a compressed template, so the gateway's first start copies it (about
// 1 s) instead of running initdb (about 3 s). Never fails the install: without
// a template the gateway simply initialises its database itself.
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TEMPLATE = fileURLToPath(new URL('../../node_modules/.cache/synapse-gateway/pglite-template.tar.gz', import.meta.url));

async function main() {
  try {
    await stat(TEMPLATE);
    return;
  } catch {}
  const started = Date.now();
  const dir = await mkdtemp(path.join(tmpdir(), 'synapse-pglite-template-'));
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(dir);
    const dump = await db.dumpDataDir('gzip');
    await db.close();
    await mkdir(path.dirname(TEMPLATE), { recursive: true });
    await writeFile(TEMPLATE, Buffer.from(await dump.arrayBuffer()));
    process.stdout.write(`synapse-gateway: embedded database template ready (${Date.now() - started} ms)\n`);
  } catch (error) {
    process.stdout.write(`synapse-gateway: no embedded database template (${error instanceof Error ? error.message : String(error)}); the first start initialises the database itself\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
