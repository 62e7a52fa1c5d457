// The action registry: the transport-free core behind GraphQL and REST.
// Hot reads use prepared statements (built once per database handle).
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { actionDefinitions, type ActionDefinitionRow } from '../db/schema.js';
import { notFound, ok, type Result } from '../errors.js';
import {
  type ActionKind,
  type ActionSpec,
  type ValidationContext,
  validateDefinitionPatch,
  validateNewDefinition,
} from './validation.js';

export interface ActionDefinition {
  id: number;
  tenant: string;
  title: string;
  kind: ActionKind;
  spec: ActionSpec;
  enabled: boolean;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface ListOptions {
  first?: number | null | undefined;
  /** Id of the last definition already seen (newest first). */
  afterId?: number | null | undefined;
  kind?: ActionKind | null | undefined;
  enabled?: boolean | null | undefined;
}

export interface DefinitionPage {
  items: ActionDefinition[];
  hasNextPage: boolean;
}

export const PAGE = { defaultSize: 50, min: 1, max: 200 } as const;

export function clampPageSize(first: number | null | undefined): number {
  if (first === null || first === undefined || !Number.isFinite(first)) return PAGE.defaultSize;
  return Math.min(PAGE.max, Math.max(PAGE.min, Math.trunc(first)));
}

/** Ids are positive integers; anything else names no definition. */
export function parseDefinitionId(raw: unknown): number | null {
  const text = typeof raw === 'number' ? String(raw) : raw;
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const id = Number(text);
  return Number.isSafeInteger(id) ? id : null;
}

// A row already has the definition's fields; only the spec's type differs, so
// no copy is made (every read returns rows of its own).
const toDefinition = (row: ActionDefinitionRow): ActionDefinition => row as Omit<ActionDefinitionRow, 'spec'> as ActionDefinition;

export type Registry = ReturnType<typeof createRegistry>;

export function createRegistry(db: Database, validation: ValidationContext) {
  const t = actionDefinitions;
  const byId = db
    .select()
    .from(t)
    .where(and(eq(t.tenant, sql.placeholder('tenant')), eq(t.id, sql.placeholder('id'))))
    .prepare('registry_get');

  // One prepared statement per filter combination keeps each plan index-friendly.
  const listStatements = new Map<string, ReturnType<typeof prepareList>>();
  function prepareList(key: string) {
    const conditions = [eq(t.tenant, sql.placeholder('tenant'))];
    if (key.includes('a')) conditions.push(lt(t.id, sql.placeholder('after')));
    if (key.includes('k')) conditions.push(eq(t.kind, sql.placeholder('kind')));
    if (key.includes('e')) conditions.push(eq(t.enabled, sql.placeholder('enabled')));
    return db
      .select()
      .from(t)
      .where(and(...conditions))
      .orderBy(desc(t.id))
      .limit(sql.placeholder('limit'))
      .prepare(`registry_list_${key || 'all'}`);
  }

  async function get(tenant: string, id: number): Promise<ActionDefinition | null> {
    const [row] = await byId.execute({ tenant, id });
    return row ? toDefinition(row) : null;
  }

  async function list(tenant: string, options: ListOptions = {}): Promise<DefinitionPage> {
    const size = clampPageSize(options.first);
    const params = { tenant, limit: size + 1 } as Record<string, unknown>;
    let key = '';
    if (options.afterId != null) (key += 'a'), (params.after = options.afterId);
    if (options.kind != null) (key += 'k'), (params.kind = options.kind);
    if (options.enabled != null) (key += 'e'), (params.enabled = options.enabled);
    let statement = listStatements.get(key);
    if (!statement) listStatements.set(key, (statement = prepareList(key)));
    const rows = await statement.execute(params);
    return { items: rows.slice(0, size).map(toDefinition), hasNextPage: rows.length > size };
  }

  async function create(tenant: string, body: unknown): Promise<Result<ActionDefinition>> {
    const valid = validateNewDefinition(body, validation);
    if (!valid.ok) return valid;
    const [row] = await db
      .insert(t)
      .values({ tenant, ...valid.value, spec: valid.value.spec as unknown as Record<string, unknown> })
      .returning();
    return ok(toDefinition(row!));
  }

  async function update(tenant: string, id: number, body: unknown): Promise<Result<ActionDefinition>> {
    return db.transaction(async (tx) => {
      const [stored] = await tx
        .select()
        .from(t)
        .where(and(eq(t.tenant, tenant), eq(t.id, id)))
        .for('update');
      if (!stored) return notFound('action definition');
      const patch = validateDefinitionPatch(body, stored, validation);
      if (!patch.ok) return patch;
      const { spec, ...rest } = patch.value;
      const [row] = await tx
        .update(t)
        .set({
          ...rest,
          ...(spec ? { spec: spec as unknown as Record<string, unknown> } : {}),
          version: sql`${t.version} + 1`,
          updatedAt: sql`now()`,
        })
        .where(eq(t.id, id))
        .returning();
      return ok(toDefinition(row!));
    });
  }

  async function remove(tenant: string, id: number): Promise<Result<{ id: number }>> {
    const [row] = await db
      .delete(t)
      .where(and(eq(t.tenant, tenant), eq(t.id, id)))
      .returning({ id: t.id });
    return row ? ok(row) : notFound('action definition');
  }

  return { get, list, create, update, remove };
}
