// One database handle over two drivers: postgres.js for a real Postgres
// (DATABASE_URL set) and PGlite persisted on disk when it is not. Everything
// above this module sees only `Database`.
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  driver: 'postgres' | 'pglite';
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; when absent, PGlite under `dataDir`. */
  url?: string | undefined;
  /** PGlite directory; `memory://` keeps it in memory. */
  dataDir: string;
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) return openPostgres(options.url, options.poolSize ?? 10);
  return openPglite(options.dataDir);
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const { default: postgres } = await import('postgres');
  const { drizzle } = await import('drizzle-orm/postgres-js');
  const client = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: 'synapse-gateway' },
  });
  const db: Database = drizzle(client, { schema });
  return {
    db,
    driver: 'postgres',
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const template = dataDir.startsWith('memory://') ? undefined : await templateFor(dataDir);
  if (!dataDir.startsWith('memory://')) await mkdir(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir, template ? { loadDataDir: template } : {});
  const db: Database = drizzle(client, { schema });
  return {
    db,
    driver: 'pglite',
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}

/** Written by `npm install` (server/scripts/pglite-template.mjs): an empty, initialised database. */
const PGLITE_TEMPLATE = new URL('../../../node_modules/.cache/synapse-gateway/pglite-template.tar.gz', import.meta.url);

/**
 * A new data directory starts from the install-time template (about 1 s)
 * instead of running initdb (about 3 s). An existing database, or no
 * template, starts as usual.
 */
async function templateFor(dataDir: string): Promise<Blob | undefined> {
  try {
    await stat(path.join(dataDir, 'PG_VERSION'));
    return undefined;
  } catch {}
  try {
    return new Blob([await readFile(PGLITE_TEMPLATE)]);
  } catch {
    return undefined;
  }
}

