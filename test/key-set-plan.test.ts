// The hot statements' key sets (server/src/db/key-set.ts) keep index lookups in
// a prepared statement's cached generic plan, made on a young table and kept as
// it grows, where a join with a plain `unnest` of the keys reads the whole table.
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../server/src/db/client.js';
import { aboutOneRow, keySet } from '../server/src/db/key-set.js';
import { rowsOf } from '../server/src/db/migrate.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';

let database: TestDatabase;
let handle: DatabaseHandle;

beforeAll(async () => {
  database = await freshDatabase();
  // One connection: prepared statements and session settings live on it.
  handle = await openDatabase(database.url ? { url: database.url, dataDir: '', poolSize: 1 } : { dataDir: database.dataDir });
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
});

const dialect = new PgDialect();
const run = (text: string) => handle.db.execute(sql.raw(text));

async function plan(statement: string): Promise<string> {
  const rows = rowsOf<Record<string, string>>(await run(`explain execute ${statement}(array['k-1', 'k-2'], 2)`));
  return rows.map((r) => Object.values(r)[0]).join('\n');
}

const statements = {
  // `where id in (keys)`, as the relay's and the ingest's run and outbox look-ups.
  keyed: dialect.sqlToQuery(sql`select p.id from key_probe p where p.id in ${keySet('keys', 'count', 'text')}`).sql,
  // A join with rows of parameters, as the ingest's one statement updates its runs.
  joined: dialect.sqlToQuery(sql`select p.id from (select * from unnest(${sql.placeholder('keys')}::text[]) ${aboutOneRow('count')}) as k(id) join key_probe p on p.id = k.id`).sql,
  // The same join without the row estimate: what the key sets replace.
  plain: 'select p.id from unnest($1::text[]) as k(id) join key_probe p on p.id = k.id where $2 > 0',
};

describe('key sets in cached plans', () => {
  it('look keys up through the index in a generic plan made on a young table, also once it grew', async () => {
    await run('create table key_probe (id text primary key, pad text not null)');
    await run('set plan_cache_mode = force_generic_plan');
    for (const [name, text] of Object.entries(statements)) await run(`prepare ${name}(text[], int) as ${text}`);

    // The generic plans are made now, while the table is empty, and kept.
    const young = { keyed: await plan('keyed'), joined: await plan('joined'), plain: await plan('plain') };
    await run(`insert into key_probe select 'k-' || i, repeat('x', 200) from generate_series(1, 5000) as i`);
    const grown = { keyed: await plan('keyed'), joined: await plan('joined'), plain: await plan('plain') };

    for (const shown of [young.keyed, young.joined, grown.keyed, grown.joined]) {
      expect(shown).toMatch(/Index (Only )?Scan using key_probe_pkey/);
      expect(shown).not.toMatch(/Seq Scan on key_probe/);
    }
    expect(grown.plain).toMatch(/Seq Scan on key_probe/);

    for (const name of ['keyed', 'joined']) {
      const found = rowsOf<{ id: string }>(await run(`execute ${name}(array['k-7', 'k-4999', 'missing'], 3)`));
      expect(found.map((r) => r.id).sort()).toEqual(['k-4999', 'k-7']);
    }
  });
});
