// Tables of the gateway. Migrations in drizzle/ are generated from this file
// (`npm run db:generate`) and applied at start-up by db/migrate.ts.
import { sql } from 'drizzle-orm';
import { bigserial, boolean, check, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const actionDefinitions = pgTable(
  'action_definitions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenant: text('tenant').notNull().default('default'),
    title: text('title').notNull(),
    kind: text('kind', { enum: ['prompt', 'command'] }).notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    version: integer('version').notNull().default(1),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('action_definitions_tenant_id_idx').on(t.tenant, t.id.desc()),
    index('action_definitions_updated_at_idx').on(t.updatedAt),
    index('action_definitions_kind_idx').on(t.tenant, t.kind),
    check('action_definitions_kind_check', sql`${t.kind} in ('prompt', 'command')`),
    // postgres.js can silently store a JSON string; the column must always hold an object.
    check('action_definitions_spec_object_check', sql`jsonb_typeof(${t.spec}) = 'object'`),
  ],
);

export type ActionDefinitionRow = typeof actionDefinitions.$inferSelect;
