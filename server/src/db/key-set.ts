// Key sets for the hot prepared statements, shaped so that their cached plan
// looks each key up through its index at every table size.
//
// Postgres plans a prepared statement generically once (at its sixth run) and
// keeps that plan until the table is next analyzed. Written as `= any($ids)` or
// as a join with `unnest($ids)`, the plan assumes ten keys; on a young table,
// which Postgres takes to be ten pages at most, it then reads the whole table,
// and keeps doing so as the table grows until autovacuum analyzes it. Measured
// in bench:events: the ingest's one statement spent 1.05 ms (p50) in Postgres,
// most of it reading every run and every outbox row; 0.55 ms with key sets.
import { type SQL, sql } from 'drizzle-orm';

/**
 * `limit $count`, where `count` is the number of rows the parameters give: the
 * planner takes a LIMIT it cannot see to keep a tenth of its input, so an
 * `unnest` of parameters counts as about one row and each of its keys is
 * looked up through the index.
 */
export function aboutOneRow(count: string): SQL {
  return sql`limit ${sql.placeholder(count)}`;
}

/** `(select unnest($keys::type[]) limit $count)`: parameter `keys` as a key set for `in (…)`; `count`: their number. */
export function keySet(keys: string, count: string, type: 'text' | 'bigint'): SQL {
  return sql`(select unnest(${sql.placeholder(keys)}::${sql.raw(type)}[]) ${aboutOneRow(count)})`;
}
