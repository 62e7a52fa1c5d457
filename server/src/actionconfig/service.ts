// Action button configuration (the condition DSL) on the server: the
// transport-free core behind `actionConfig`, `setActionConfig` and
// `availableActions`. Validation and evaluation are the client package's own
// code, so the gateway and a dashboard always agree on which buttons show.
//
// Configurations are versioned per tenant (1, 2, ...). The parsed configuration
// of the current version is cached per tenant; every read first asks the
// database for the current version with one cheap prepared query, so a version
// set by another gateway process is picked up on the next call.
import {
  type ActionConfig,
  type DslIssue,
  parseActionConfig,
  type VisibleAction,
  visibleActions,
} from '@synapse-gateway/client/dsl';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { isUniqueViolation } from '../db/errors.js';
import { actionConfigs } from '../db/schema.js';
import { type DomainError, fail, ok, type Result } from '../errors.js';

/** Largest accepted subject of `availableActions`, as UTF-8 JSON. */
export const MAX_SUBJECT_BYTES = 64 * 1024;

export type IssueSeverity = 'error' | 'warning';

/** A DSL issue with its severity made explicit (the DSL leaves `error` implicit). */
export interface ConfigIssue {
  path: string;
  message: string;
  code: string;
  severity: IssueSeverity;
}

export interface StoredActionConfig {
  tenant: string;
  version: number;
  /** The YAML text as it was set. */
  source: string;
  /** The validated configuration (known keys only). Shared and cached: never mutate it. */
  config: ActionConfig;
  createdAt: Date;
  /** Warning-severity issues of the source (unknown keys, literal braces, ...). */
  warnings: ConfigIssue[];
}

/** `setActionConfig` rejected the text: every issue, errors and warnings, with its path. */
export interface ActionConfigRejection extends DomainError {
  code: 'invalid_action_config';
  field: 'yaml';
  issues: ConfigIssue[];
}

export const toConfigIssue = (issue: DslIssue): ConfigIssue => ({
  path: issue.path,
  message: issue.message,
  code: issue.code,
  severity: issue.severity ?? 'error',
});

/** Turns a DSL parse result into a stored-config payload or a rejection listing every issue. */
export function judgeParse(issues: readonly DslIssue[], config: ActionConfig | null): Result<{ config: ActionConfig; warnings: ConfigIssue[] }, ActionConfigRejection> {
  const all = issues.map(toConfigIssue);
  if (config === null) {
    const errors = all.filter((issue) => issue.severity === 'error').length;
    const first = all.find((issue) => issue.severity === 'error');
    const message =
      errors <= 1 && first
        ? `the action configuration is invalid: ${first.path}: ${first.message}`
        : `the action configuration has ${errors} errors; see issues`;
    return { ok: false, error: { code: 'invalid_action_config', field: 'yaml', message, issues: all } };
  }
  return ok({ config, warnings: all.filter((issue) => issue.severity === 'warning') });
}

/** UTF-8 size of the subject serialised as JSON; null when it cannot be serialised (cycles, BigInt). */
export function subjectBytes(subject: unknown): number | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(subject);
  } catch {
    return null;
  }
  if (text === undefined) return 4; // `null`
  // Cheap bounds first: each UTF-16 unit is 1..3 UTF-8 bytes.
  if (text.length * 3 <= MAX_SUBJECT_BYTES) return text.length;
  return new TextEncoder().encode(text).length;
}

export function checkSubject(subject: unknown, maxBytes = MAX_SUBJECT_BYTES): Result<unknown> {
  const bytes = subjectBytes(subject);
  if (bytes === null) return fail('invalid_subject', 'subject', 'the subject must be JSON');
  if (bytes > maxBytes) return fail('subject_too_large', 'subject', `the subject is ${bytes} bytes of JSON; at most ${maxBytes} are allowed`);
  return ok(subject);
}

export interface ActionConfigServiceOptions {
  maxSubjectBytes?: number;
}

export type ActionConfigService = ReturnType<typeof createActionConfigService>;

export function createActionConfigService(db: Database, options: ActionConfigServiceOptions = {}) {
  const t = actionConfigs;
  const maxSubjectBytes = options.maxSubjectBytes ?? MAX_SUBJECT_BYTES;

  const currentVersion = db
    .select({ version: t.version })
    .from(t)
    .where(eq(t.tenant, sql.placeholder('tenant')))
    .orderBy(desc(t.version))
    .limit(1)
    .prepare('action_config_current_version');

  const byVersion = db
    .select()
    .from(t)
    .where(and(eq(t.tenant, sql.placeholder('tenant')), eq(t.version, sql.placeholder('version'))))
    .prepare('action_config_by_version');

  /** The current version's parsed configuration per tenant (older versions are dropped). */
  const cache = new Map<string, StoredActionConfig>();
  /** Loads in flight, so that concurrent first calls parse once. */
  const loading = new Map<string, Promise<StoredActionConfig | null>>();

  function remember(entry: StoredActionConfig): void {
    const cached = cache.get(entry.tenant);
    if (!cached || cached.version < entry.version) cache.set(entry.tenant, entry);
  }

  async function load(tenant: string, version: number): Promise<StoredActionConfig | null> {
    const [row] = await byVersion.execute({ tenant, version });
    if (!row) return null;
    // The source is authoritative (it carries the warnings); the stored JSON is the
    // fallback should a newer DSL reject an old source.
    let parsed = parseActionConfig(row.source);
    if (parsed.config === null) {
      const fromJson = parseActionConfig(row.config);
      if (fromJson.config !== null) parsed = { config: fromJson.config, issues: parsed.issues.map((issue) => ({ ...issue, severity: 'warning' })) };
    }
    if (parsed.config === null) return null;
    const entry: StoredActionConfig = {
      tenant,
      version: row.version,
      source: row.source,
      config: parsed.config,
      createdAt: row.createdAt,
      warnings: parsed.issues.map(toConfigIssue).filter((issue) => issue.severity === 'warning'),
    };
    remember(entry);
    return entry;
  }

  /** The current configuration of a tenant, or null when none was ever set. */
  async function current(tenant: string): Promise<StoredActionConfig | null> {
    const [head] = await currentVersion.execute({ tenant });
    if (!head) return null;
    const cached = cache.get(tenant);
    if (cached && cached.version === head.version) return cached;
    const key = `${tenant}\u0000${head.version}`;
    let pending = loading.get(key);
    if (!pending) {
      pending = load(tenant, head.version).finally(() => loading.delete(key));
      loading.set(key, pending);
    }
    return pending;
  }

  async function insertNext(tenant: string, source: string, config: ActionConfig): Promise<{ version: number; createdAt: Date }> {
    return db.transaction(async (tx) => {
      // One writer per tenant at a time, so max(version) + 1 is free when we insert.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('synapse.action_configs'), hashtext(${tenant}))`);
      const [head] = await tx
        .select({ version: t.version })
        .from(t)
        .where(eq(t.tenant, tenant))
        .orderBy(desc(t.version))
        .limit(1);
      const [row] = await tx
        .insert(t)
        .values({ tenant, version: (head?.version ?? 0) + 1, source, config: config as unknown as Record<string, unknown> })
        .returning({ version: t.version, createdAt: t.createdAt });
      return row!;
    });
  }

  /**
   * Validates YAML text with the DSL and stores it as the tenant's next version.
   * Rejected text changes nothing and comes back with every issue.
   */
  async function set(tenant: string, yaml: string): Promise<Result<StoredActionConfig, ActionConfigRejection>> {
    const parsed = parseActionConfig(yaml);
    const judged = judgeParse(parsed.issues, parsed.config);
    if (!judged.ok) return judged;
    const { config, warnings } = judged.value;
    // The PK (tenant, version) is the last line of defence; the advisory lock makes
    // conflicts rare (only against writers that do not take it), so retry a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        const { version, createdAt } = await insertNext(tenant, yaml, config);
        const entry: StoredActionConfig = { tenant, version, source: yaml, config, createdAt, warnings };
        remember(entry);
        return ok(entry);
      } catch (error) {
        if (attempt >= 5 || !isUniqueViolation(error)) throw error;
      }
    }
  }

  /** The buttons for `subject` of `type` under the tenant's current configuration; [] when none is set. */
  async function available(tenant: string, type: string, subject: unknown): Promise<Result<VisibleAction[]>> {
    const checked = checkSubject(subject, maxSubjectBytes);
    if (!checked.ok) return checked;
    const stored = await current(tenant);
    return ok(stored ? visibleActions(stored.config, type, subject) : []);
  }

  return { current, set, available };
}
