// Liveness: ends runs whose Axon went silent (timed_out), whose deadline
// passed before the Axon accepted them (expired), whose service went offline
// while they ran (lost), and cancels whose confirmation never came
// (cancelled, reason unconfirmed). State lives in the database, so it survives
// restarts; each ending has a deterministic event id, so several gateways
// sweeping at once store it once.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { rowsOf } from '../db/migrate.js';
import type { EventIngest } from '../events/ingest.js';
import type { Logger } from '../observability/logger.js';
import { buildGatewayEvent, type GatewayEventType } from '../protocol/index.js';

export interface SweepCandidate {
  id: string;
  tenant: string;
  service_id: string;
  action_id: string;
  trace_id: string;
  command_id: string;
  ending: GatewayEventType;
  reason: string;
}

/** A UUID derived from the run and the kind of ending (same inputs, same id). */
export function endingEventId(runId: string, ending: string): string {
  const h = createHash('sha256').update(`${runId}:${ending}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function createSweeper(options: { db: Database; ingest: EventIngest; logger: Logger; now: () => number; batch?: number }) {
  const { db, ingest, logger } = options;
  const limit = options.batch ?? 200;

  async function candidates(): Promise<SweepCandidate[]> {
    // One statement: the first matching ending per run, cancels first.
    const result = await db.execute(sql`
      select r.id, r.tenant, r.service_id, r.action_id, r.trace_id, r.command_id,
        case
          when r.cancel_requested and r.cancel_requested_at < now() - make_interval(secs => r.heartbeat_timeout_s) then 'cancelled'
          when r.deadline is not null and r.deadline < now() and r.state in ('requested', 'dispatched') then 'expired'
          when s.status = 'offline' and r.state in ('accepted', 'running') then 'lost'
          else 'timed_out'
        end as ending,
        case
          when r.cancel_requested and r.cancel_requested_at < now() - make_interval(secs => r.heartbeat_timeout_s) then 'unconfirmed'
          when r.deadline is not null and r.deadline < now() and r.state in ('requested', 'dispatched') then 'deadline passed before the Axon accepted the command'
          when s.status = 'offline' and r.state in ('accepted', 'running') then 'the service went offline while the run was running'
          else 'no event within the heartbeat timeout of ' || r.heartbeat_timeout_s || ' s'
        end as reason
      from runs r left join services s on s.id = r.service_id
      where r.finished_at is null and r.state in ('requested', 'dispatched', 'accepted', 'running')
        and (
          (r.cancel_requested and r.cancel_requested_at < now() - make_interval(secs => r.heartbeat_timeout_s))
          or (r.deadline is not null and r.deadline < now() and r.state in ('requested', 'dispatched'))
          or (s.status = 'offline' and r.state in ('accepted', 'running'))
          or (r.state in ('dispatched', 'accepted', 'running') and r.last_event_at < now() - make_interval(secs => r.heartbeat_timeout_s))
        )
      order by r.last_event_at
      limit ${limit}`);
    return rowsOf<SweepCandidate>(result);
  }

  /** One pass; returns how many runs it ended. */
  async function sweep(): Promise<number> {
    const found = await candidates();
    let ended = 0;
    for (const run of found) {
      const event = buildGatewayEvent({
        id: endingEventId(run.id, run.ending),
        now: options.now(),
        tenant: run.tenant,
        shortType: run.ending,
        data: { status: run.ending, reason: run.reason },
        traceId: run.trace_id,
        resourceTrn: `trn:synapse:${run.tenant}:action/${run.service_id}/${run.action_id}`,
        runId: run.id,
        correlationId: run.command_id,
      });
      if (!event.ok) {
        logger.error({ runId: run.id, err: event.error.message }, 'could not build the ending event');
        continue;
      }
      const result = await ingest.ingestGatewayEvent(event.value, run.service_id, run.ending);
      if (result.ok && !result.duplicate) {
        ended += 1;
        logger.info({ runId: run.id, ending: run.ending, reason: run.reason }, 'run ended by the gateway');
      }
    }
    if (found.length > 0) {
      // Expired runs must not be published after all.
      await db.execute(sql`
        update outbox set sent_at = now(), last_error = 'run ended before its command was published'
        where sent_at is null and kind = 'command'
          and exists (select 1 from runs r where r.id = outbox.run_id and r.state in ('expired', 'cancelled') and r.dispatched_at is null)`);
    }
    return ended;
  }

  return { sweep };
}
