// Applies the SQL migrations that drizzle-kit generated into drizzle/.
// One transaction under an advisory lock, so two gateways starting at once
// neither race nor apply a migration twice; DDL in Postgres is transactional,
// so a failed migration leaves nothing half-applied.
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Database } from './client.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));
const LOCK_KEY = 0x53594e41; // "SYNA"

export interface MigrationReport {
  applied: string[];
  total: number;
}

export async function migrate(db: Database, folder = MIGRATIONS_FOLDER): Promise<MigrationReport> {
  const migrations = readMigrationFiles({ migrationsFolder: folder });
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY})`);
    await tx.execute(sql`create table if not exists synapse_migrations (
      hash text primary key,
      folder_millis bigint not null,
      applied_at timestamptz not null default now()
    )`);
    const done = await tx.execute<{ hash: string }>(sql`select hash from synapse_migrations`);
    const appliedHashes = new Set(rowsOf<{ hash: string }>(done).map((r) => r.hash));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (appliedHashes.has(migration.hash)) continue;
      for (const statement of migration.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`insert into synapse_migrations (hash, folder_millis) values (${migration.hash}, ${migration.folderMillis})`,
      );
      applied.push(String(migration.folderMillis));
    }
    return { applied, total: migrations.length };
  });
}

/** postgres.js returns an array of rows, PGlite an object with `rows`. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}
