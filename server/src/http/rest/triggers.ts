// REST compatibility for triggers: the MVP route (seed 000) and the
// envelope route (seed 002). Thin adapters over the run service.
import type { IncomingMessage } from 'node:http';
import type { DomainError } from '../../errors.js';
import { commandErrorHttpStatus, parseCommandEnvelope } from '../../protocol/index.js';
import { actorOf, callerIdentity } from '../../auth/principal.js';
import type { RunService } from '../../runs/service.js';
import { TRIGGER_LIMITS, validateTrigger } from '../../runs/trigger-input.js';
import { readJsonBody } from '../body.js';
import type { RateLimiter } from '../rate-limit.js';
import { json, type RestResponse, type createRouter } from './router.js';

export interface TriggerRoutesContext {
  runs: RunService;
  maxBodyBytes: number;
  /** Shared with the GraphQL trigger mutations. */
  limiter: RateLimiter;
}

/** 429 with Retry-After when the caller's trigger budget is spent; null to go on. */
function rateLimited(ctx: TriggerRoutesContext, req: IncomingMessage, keyId: string | null): RestResponse | null {
  const decision = ctx.limiter.take({ key: keyId, ip: req.socket.remoteAddress ?? null });
  if (decision.ok) return null;
  const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  return json(429, { error: 'rate_limited', detail: `too many triggers; retry in ${seconds} s` }, { 'retry-after': String(seconds) });
}

const TRIGGER = { scopes: ['actions:trigger'] } as const;

/** How long `POST /actions/{trn}/execute` waits for an outcome before answering 202. */
export const DEFAULT_EXECUTE_WAIT_MS = 2_000;

const STATUS: Record<string, number> = {
  unknown_service: 404,
  unknown_action: 404,
  not_found: 404,
  idempotency_conflict: 409,
  service_offline: 503,
};

function triggerError(error: DomainError): RestResponse {
  return json(STATUS[error.code] ?? 400, { error: error.code, detail: error.message, field: error.field });
}

/** `?wait=ms` or `Prefer: wait=seconds` (RFC 7240); clamped to 0..30000 ms. */
export function requestedWait(req: IncomingMessage, query: URLSearchParams, fallbackMs: number): number | null {
  const fromQuery = query.get('wait');
  if (fromQuery !== null) return /^[0-9]{1,6}$/.test(fromQuery) ? Math.min(TRIGGER_LIMITS.maxWaitMs, Number(fromQuery)) : null;
  const prefer = /(?:^|[,;\s])wait=([0-9]{1,5})\b/.exec(String(req.headers.prefer ?? ''));
  if (prefer) return Math.min(TRIGGER_LIMITS.maxWaitMs, Number(prefer[1]) * 1000);
  return fallbackMs;
}

export function registerTriggerRoutes(router: ReturnType<typeof createRouter>, ctx: TriggerRoutesContext): void {
  router.add('POST', '/api/v1/services/:serviceId/actions/:actionId', { access: TRIGGER }, async ({ req, params, query, principal }) => {
    const limited = rateLimited(ctx, req, principal.keyId);
    if (limited) return limited;
    // The MVP sent no body; one may carry {input, idempotencyKey}.
    let body: Record<string, unknown> = {};
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding']) {
      const read = await readJsonBody(req, ctx.maxBodyBytes);
      if (!read.ok) return json(read.status, { error: read.error, detail: read.detail });
      if (typeof read.value !== 'object' || read.value === null || Array.isArray(read.value)) {
        return json(400, { error: 'invalid_body', detail: 'body must be a JSON object (or empty)' });
      }
      body = read.value as Record<string, unknown>;
    }
    const wait = requestedWait(req, query, 0);
    if (wait === null) return json(400, { error: 'invalid_wait', detail: 'wait must be a number of milliseconds' });
    const request = validateTrigger({ input: body.input, idempotencyKey: body.idempotencyKey, serviceId: params.serviceId, actionId: params.actionId, wait }, Date.now());
    if (!request.ok) {
      const { code } = request.error;
      return code === 'invalid_service_id' || code === 'invalid_action_id' ? json(404, { error: code === 'invalid_service_id' ? 'unknown_service' : 'unknown_action', detail: request.error.message }) : triggerError(request.error);
    }
    const outcome = await ctx.runs.trigger(principal.tenant, request.value, { origin: 'rest', issuedBy: 'user', ...callerIdentity(principal) });
    if (!outcome.ok) return triggerError(outcome.error);
    const run = await ctx.runs.waitForTerminal(outcome.value.run, request.value.waitMs);
    return json(202, { ok: true, runId: run.id, commandId: run.commandId, state: run.state, replayed: outcome.value.replayed });
  });

  router.add('POST', '/actions/*/execute', { access: TRIGGER, family: '/actions/{trn}/execute' }, async ({ req, params, query, principal }) => {
      const limited = rateLimited(ctx, req, principal.keyId);
      if (limited) return limited;
      const trn = params['*'] ?? '';
      const read = await readJsonBody(req, ctx.maxBodyBytes);
      if (!read.ok) return json(read.status, { error: read.error, detail: read.detail });
      const parsed = parseCommandEnvelope(read.value);
      if (!parsed.ok) {
        return json(commandErrorHttpStatus(parsed.error.code), { error: parsed.error.code, detail: parsed.error.message, field: parsed.error.path || null });
      }
      const { envelope, target } = parsed.value;
      if (parsed.value.verb !== 'execute') {
        return json(422, { error: 'unsupported_command', detail: `${envelope.command} is not executed through this route; use the cancelRun mutation` });
      }
      if (envelope.target !== trn) {
        return json(400, { error: 'target_mismatch', detail: 'the envelope target must equal the TRN in the path', field: 'target' });
      }
      const tenant = principal.tenant;
      if (target.tenant !== tenant) return json(404, { error: 'unknown_service', detail: `no service ${target.serviceId} in tenant ${target.tenant}` });
      const wait = requestedWait(req, query, DEFAULT_EXECUTE_WAIT_MS);
      if (wait === null) return json(400, { error: 'invalid_wait', detail: 'wait must be a number of milliseconds' });
      const request = validateTrigger(
        {
          serviceId: target.serviceId,
          actionId: target.actionId,
          input: parsed.value.input,
          // A redelivered command is the same request: its id keys it when it has no key of its own.
          idempotencyKey: envelope.idempotencyKey ?? `command:${envelope.id}`,
          wait,
          deadline: envelope.deadline ? new Date(envelope.deadline) : null,
        },
        Date.now(),
      );
      if (!request.ok) return triggerError(request.error);
      const outcome = await ctx.runs.trigger(tenant, request.value, {
        origin: 'envelope',
        issuedBy: envelope.actorTrn ?? envelope.source,
        actorTrn: envelope.actorTrn,
        actor: actorOf(principal),
        caller: { commandId: envelope.id, target: envelope.target, traceId: envelope.traceId },
      });
      if (!outcome.ok) return triggerError(outcome.error);
      const run = await ctx.runs.waitForTerminal(outcome.value.run, request.value.waitMs);
      if (run.state === 'succeeded') return json(200, { status: 'succeeded', result: run.output ?? null, runId: run.id });
      if (['failed', 'rejected', 'cancelled', 'timed_out', 'lost', 'expired'].includes(run.state)) {
        return json(200, { status: run.state, error: run.error ?? null, runId: run.id });
      }
      return json(202, { runId: run.id, phase: 'running', heartbeatTimeout: run.heartbeatTimeoutS, statusTtl: run.statusTtlS });
  });
}
