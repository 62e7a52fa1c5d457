/** zod building blocks shared by the command and event envelopes. */
import { z } from 'zod';
import { normaliseTraceId } from './ids.js';
import { formatPath } from './result.js';
import { isRfc3339 } from './time.js';
import { isTrn, TENANT_PATTERN } from './trn.js';

/** The envelope schema version this gateway speaks. */
export const ENVELOPE_SCHEMA_VERSION = '1.1.0';
/** Accepted versions: any 1.x.y (x, y without leading zeros). */
export const SUPPORTED_SCHEMA_VERSION_PATTERN = /^1\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$/;

export function isSupportedSchemaVersion(v: unknown): boolean {
  return typeof v === 'string' && SUPPORTED_SCHEMA_VERSION_PATTERN.test(v);
}

/** Envelope ids we receive (command ids, event ids, run ids, correlation ids): 1–128 characters. */
export const MAX_ENVELOPE_ID_CHARS = 128;

export const envelopeIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_ENVELOPE_ID_CHARS, `must be at most ${MAX_ENVELOPE_ID_CHARS} characters`);

export const rfc3339Schema = z.string().refine((s) => isRfc3339(s), 'must be an RFC 3339 timestamp');

export const trnSchema = z.string().refine((s) => isTrn(s), 'must be a TRN trn:{system}:{tenant}:{type}/{name}[@v{N}]');

export const tenantSchema = z.string().regex(TENANT_PATTERN, 'must match ^[a-z0-9][a-z0-9_-]{0,62}$ (case-insensitive)');

/** 32 hex digits or a W3C traceparent; output: the lowercase 32-digit trace id. */
export const traceIdSchema = z.string().transform((s, ctx) => {
  const traceId = normaliseTraceId(s);
  if (traceId === null) {
    ctx.addIssue({ code: 'custom', message: 'must be a W3C trace id (32 hex digits, not all zeros) or traceparent' });
    return z.NEVER;
  }
  return traceId;
});

/** The first issue of a failed zod parse as `{ path, message }`. */
export function firstIssue(error: z.ZodError): { path: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { path: '', message: 'invalid' };
  const path = formatPath(issue.path);
  const message = /received undefined$/.test(issue.message) ? 'is required' : issue.message;
  return { path, message: path === '' ? message : `${path}: ${message}` };
}
