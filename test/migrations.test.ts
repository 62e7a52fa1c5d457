// Migrations apply once, even when several gateways start at the same moment.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../server/src/db/client.js';
import { migrate, rowsOf } from '../server/src/db/migrate.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';

let db: TestDatabase;
const handles: DatabaseHandle[] = [];
beforeAll(async () => {
  db = await freshDatabase({ onDisk: true });
});
afterAll(async () => {
  for (const h of handles) await h.close();
  await db?.drop();
});

describe('migrate', () => {
  it('applies every migration once across concurrent runs and is a no-op afterwards', async () => {
    // Postgres: four separate pools race for the advisory lock. PGlite has one
    // owner per directory, so its four runs race inside one handle.
    const count = 4;
    if (db.url) for (let i = 0; i < count; i++) handles.push(await openDatabase({ url: db.url, dataDir: '', poolSize: 2 }));
    else handles.push(await openDatabase({ dataDir: db.dataDir }));
    const reports = await Promise.all(Array.from({ length: count }, (_, i) => migrate(handles[i % handles.length]!.db)));
    const total = reports[0]!.total;
    expect(total).toBeGreaterThan(0);
    expect(reports.reduce((n, r) => n + r.applied.length, 0)).toBe(total);
    const rows = rowsOf<{ n: number }>(await handles[0]!.db.execute(sql`select count(*)::int as n from synapse_migrations`));
    expect(rows[0]!.n).toBe(total);
    const again = await migrate(handles[0]!.db);
    expect(again.applied).toEqual([]);
  });
});
