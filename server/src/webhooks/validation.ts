// Validation of webhook endpoints at the edge (zod). Pure.
import { z } from 'zod';
import { fail, ok, type Result } from '../errors.js';
import { EVENT_SHORT_TYPES } from '../protocol/index.js';

export const WEBHOOK_LIMITS = {
  maxUrlBytes: 2048,
  maxEndpointsPerTenant: 50,
  maxEventTypes: EVENT_SHORT_TYPES.length + 1,
  minSecretLength: 16,
  maxSecretLength: 256,
} as const;

/** Short event types an endpoint can subscribe to, and `*` for all of them. */
export const WEBHOOK_EVENT_TYPES = [...EVENT_SHORT_TYPES, '*'] as const;

/** An absolute http(s) URL without credentials, at most 2 KiB. */
export function isWebhookUrl(value: string): boolean {
  if (Buffer.byteLength(value, 'utf8') > WEBHOOK_LIMITS.maxUrlBytes) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

const WebhookInputSchema = z.object({
  url: z
    .string({ error: 'url is required' })
    .trim()
    .refine((v) => Buffer.byteLength(v, 'utf8') <= WEBHOOK_LIMITS.maxUrlBytes, { message: `url is longer than ${WEBHOOK_LIMITS.maxUrlBytes} bytes` })
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v) && v.isWellFormed(), { message: 'url must not contain control characters or unpaired surrogates' })
    .refine(isWebhookUrl, { message: 'url must be an absolute http:// or https:// URL without user name or password' }),
  eventTypes: z
    .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `eventTypes accepts ${WEBHOOK_EVENT_TYPES.join(', ')}` }), { error: 'eventTypes must be a list' })
    .min(1, 'eventTypes needs at least one type (or "*")')
    .max(WEBHOOK_LIMITS.maxEventTypes, `eventTypes has at most ${WEBHOOK_LIMITS.maxEventTypes} entries`)
    .transform((types) => (types.includes('*') ? ['*'] : [...new Set(types)])),
  secret: z
    .string()
    .min(WEBHOOK_LIMITS.minSecretLength, `secret needs at least ${WEBHOOK_LIMITS.minSecretLength} characters`)
    .max(WEBHOOK_LIMITS.maxSecretLength, `secret has at most ${WEBHOOK_LIMITS.maxSecretLength} characters`)
    .regex(/^[\x21-\x7e]+$/, 'secret accepts printable ASCII without spaces')
    .nullish(),
});

export interface WebhookInput {
  url: string;
  eventTypes: string[];
  secret: string | null;
}

const CODES: Record<string, string> = { url: 'invalid_url', eventTypes: 'invalid_event_types', secret: 'invalid_secret' };

/** Validates `createWebhook`'s input; the first problem as `{code, field, message}`. */
export function validateWebhookInput(raw: unknown): Result<WebhookInput> {
  const parsed = WebhookInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    return fail(CODES[field] ?? 'invalid_input', field || null, issue.message);
  }
  return ok({ url: parsed.data.url, eventTypes: parsed.data.eventTypes, secret: parsed.data.secret ?? null });
}

/** Whether an endpoint subscribed to `types` receives an event of short type `short`. */
export function matchesEventType(types: readonly string[], short: string): boolean {
  return types.includes('*') || types.includes(short);
}
