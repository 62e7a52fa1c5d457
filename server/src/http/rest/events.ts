// `POST /api/v1/events`: EventEnvelopes from agents without MQTT (seed 002).
// Idempotent by (source, id): a repeated event answers 200 with duplicate: true.
import type { EventIngest } from '../../events/ingest.js';
import { readJsonBody } from '../body.js';
import { json, type createRouter } from './router.js';

export interface EventRoutesContext {
  ingest: EventIngest;
  maxBodyBytes: number;
}

const STATUS: Record<string, number> = { unknown_run: 404, service_mismatch: 403, unsupported_schema_version: 422, too_large: 413 };

export function registerEventRoutes(router: ReturnType<typeof createRouter>, ctx: EventRoutesContext): void {
  // An Axon posts with its own credential (or anonymously while the gateway runs open); its events must be its own.
  router.add('POST', '/api/v1/events', { access: { agent: true } }, async ({ req, agent }) => {
    const body = await readJsonBody(req, ctx.maxBodyBytes);
    if (!body.ok) return json(body.status, { error: body.error, detail: body.detail });
    const result = await ctx.ingest.ingestJson(body.value, agent ? { serviceId: agent.serviceId } : {});
    if (!result.ok) return json(STATUS[result.code] ?? 400, { error: result.code, detail: result.message, field: result.path || null });
    return json(result.duplicate ? 200 : 201, {
      ok: true,
      duplicate: result.duplicate,
      ...(result.event ? { seq: result.event.seq, state: result.event.state } : {}),
    });
  });
}
