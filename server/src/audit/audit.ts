// The audit log: who (key id, or `open`), when and what, for every trigger,
// cancel, registry, configuration, webhook and key change. Triggers record
// inside their own transaction; other changes record right after they commit.
import { and, desc, eq, lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { auditLog } from '../db/schema.js';

export interface AuditEntryInput {
  tenant: string;
  actor: string;
  action: AuditAction;
  target: string | null;
  detail?: Record<string, unknown>;
}

export const AUDIT_ACTIONS = [
  'run.trigger',
  'run.cancel',
  'definition.create',
  'definition.update',
  'definition.delete',
  'action_config.set',
  'webhook.create',
  'webhook.delete',
  'webhook.redeliver',
  'api_key.create',
  'api_key.revoke',
  'agent_credential.create',
  'agent_credential.revoke',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type AuditEntry = typeof auditLog.$inferSelect;

/** Anything drizzle can insert with: the database or an open transaction. */
type Writer = Pick<Database, 'insert'>;

export async function recordAudit(writer: Writer, entry: AuditEntryInput): Promise<void> {
  await writer.insert(auditLog).values({ tenant: entry.tenant, actor: entry.actor, action: entry.action, target: entry.target, detail: entry.detail ?? {} });
}

export function createAuditLog(db: Database) {
  return {
    record: (entry: AuditEntryInput) => recordAudit(db, entry),
    /** Newest first; `before` is an entry id to page on. */
    async list(tenant: string, options: { first: number; before: number | null; action: string | null }): Promise<AuditEntry[]> {
      const conditions = [eq(auditLog.tenant, tenant)];
      if (options.before !== null) conditions.push(lt(auditLog.id, options.before));
      if (options.action !== null) conditions.push(eq(auditLog.action, options.action));
      return db.select().from(auditLog).where(and(...conditions)).orderBy(desc(auditLog.id)).limit(options.first);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
