// Validation of trigger requests at the edge (GraphQL and REST share it).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { fail, ok, type Result } from '../errors.js';
import { canonicalJson, COMMAND_LIMITS, isActionId, isServiceId, jsonByteSize, findUnstorableString, UNSTORABLE_MESSAGE } from '../protocol/index.js';

export const TRIGGER_LIMITS = {
  maxWaitMs: 30_000,
  maxIdempotencyKeyChars: 255,
  maxInputBytes: COMMAND_LIMITS.maxParametersBytes - 4_096,
  maxDeadlineMs: 7 * 24 * 3600 * 1000,
} as const;

export interface TriggerRequest {
  serviceId: string;
  actionId: string;
  input: unknown;
  idempotencyKey: string | null;
  waitMs: number;
  deadline: Date | null;
}

const schema = z.object({
  serviceId: z.string({ error: 'serviceId must be a string' }).refine(isServiceId, 'serviceId must match ^[A-Za-z0-9_-]{1,128}$'),
  actionId: z.string({ error: 'actionId must be a string' }).refine(isActionId, 'actionId must match ^[A-Za-z0-9_-]{1,128}$'),
  idempotencyKey: z
    .string({ error: 'idempotencyKey must be a string' })
    .min(1, 'idempotencyKey must not be empty')
    .max(TRIGGER_LIMITS.maxIdempotencyKeyChars, `idempotencyKey must be at most ${TRIGGER_LIMITS.maxIdempotencyKeyChars} characters`)
    .refine((s) => !s.includes('\u0000') && s.isWellFormed(), 'idempotencyKey must be text without NUL characters')
    .nullish(),
  wait: z
    .number({ error: 'wait must be a number of milliseconds' })
    .int('wait must be a whole number of milliseconds')
    .min(0, 'wait must be at least 0')
    .max(TRIGGER_LIMITS.maxWaitMs, `wait must be at most ${TRIGGER_LIMITS.maxWaitMs} ms`)
    .nullish(),
  deadline: z.date({ error: 'deadline must be an RFC 3339 time' }).nullish(),
});

const CODES: Record<string, string> = {
  serviceId: 'invalid_service_id',
  actionId: 'invalid_action_id',
  idempotencyKey: 'invalid_idempotency_key',
  wait: 'invalid_wait',
  deadline: 'invalid_deadline',
};

export function validateTrigger(raw: Record<string, unknown>, now: number): Result<TriggerRequest> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'input');
    return fail(CODES[field] ?? 'invalid_input', field, issue.message);
  }
  const input = raw.input === undefined ? null : raw.input;
  const size = jsonByteSize(input);
  if (!size.ok) return fail('invalid_input', 'input', 'input must be JSON');
  const nul = findUnstorableString(input);
  if (nul !== null) return fail('invalid_input', 'input', `input.${nul}: ${UNSTORABLE_MESSAGE}`);
  if (size.value > TRIGGER_LIMITS.maxInputBytes) {
    return fail('invalid_input', 'input', `input is ${size.value} bytes; the limit is ${TRIGGER_LIMITS.maxInputBytes}`);
  }
  const deadline = parsed.data.deadline ?? null;
  if (deadline && deadline.getTime() <= now) return fail('invalid_deadline', 'deadline', 'deadline is in the past');
  if (deadline && deadline.getTime() > now + TRIGGER_LIMITS.maxDeadlineMs) {
    return fail('invalid_deadline', 'deadline', 'deadline is more than 7 days away');
  }
  return ok({
    serviceId: parsed.data.serviceId,
    actionId: parsed.data.actionId,
    input,
    idempotencyKey: parsed.data.idempotencyKey ?? null,
    waitMs: parsed.data.wait ?? 0,
    deadline,
  });
}

/** What makes two requests "the same" for idempotency: target, input and definition. */
export function requestHash(parts: { serviceId: string; actionId: string; input: unknown; definitionId?: number | null }): string {
  const canonical = canonicalJson({ s: parts.serviceId, a: parts.actionId, i: parts.input, d: parts.definitionId ?? null });
  return createHash('sha256')
    .update(canonical.ok ? canonical.value : JSON.stringify(parts))
    .digest('hex');
}
