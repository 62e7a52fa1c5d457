// A fresh database for one test file: a new Postgres database when
// DATABASE_URL is set (created and dropped here), else a PGlite directory.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';

export interface TestDatabase {
  /** Set for Postgres; unset means PGlite in `dataDir`. */
  url: string | undefined;
  dataDir: string;
  kind: 'postgres' | 'pglite';
  drop(): Promise<void>;
}

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

export async function freshDatabase(options: { onDisk?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl) {
    const name = `synapse_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      dataDir: 'unused',
      kind: 'postgres',
      drop: async () => {
        const again = postgres(adminUrl, { max: 1, onnotice: () => {} });
        await again.unsafe(`drop database if exists "${name}" with (force)`);
        await again.end();
      },
    };
  }
  if (!options.onDisk) return { url: undefined, dataDir: 'memory://', kind: 'pglite', drop: async () => {} };
  const dataDir = await mkdtemp(path.join(tmpdir(), 'synapse-test-db-'));
  return { url: undefined, dataDir, kind: 'pglite', drop: () => rm(dataDir, { recursive: true, force: true }) };
}
