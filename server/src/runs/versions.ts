// The last row version (xmin) of runs this process wrote in one statement, so
// the event ingest can write a run's next event optimistically without reading
// the run first. Only a hint: the write checks the version, and a run changed
// by anyone else (another gateway, a transaction here) is read again.
import type { RunRow } from './events.js';
import { isTerminal, type RunState } from '../protocol/index.js';

/** A run row with its row version (Postgres `xmin`, as text). */
export type VersionedRun = RunRow & { version: string };

export interface RunVersions {
  get(runId: string): VersionedRun | undefined;
  /** A statement of this process wrote the run as given; ended runs are not kept. */
  remember(run: VersionedRun): void;
  /** The run was written in a way whose version is unknown here. */
  forget(runId: string): void;
  readonly size: number;
}

/**
 * The run without its version, member by member: the ingest makes one per
 * stored event, and a rest pattern (`{ version, ...run }`) copied an object
 * ten times slower than a literal (about 480 against 25 ns on Node 20).
 */
export function withoutVersion(r: RunRow): RunRow {
  return {
    id: r.id,
    tenant: r.tenant,
    serviceId: r.serviceId,
    actionId: r.actionId,
    definitionId: r.definitionId,
    definitionVersion: r.definitionVersion,
    state: r.state,
    reason: r.reason,
    cancelRequested: r.cancelRequested,
    cancelRequestedAt: r.cancelRequestedAt,
    input: r.input,
    output: r.output,
    error: r.error,
    commandId: r.commandId,
    traceId: r.traceId,
    idempotencyKey: r.idempotencyKey,
    origin: r.origin,
    callerCommandId: r.callerCommandId,
    callerTarget: r.callerTarget,
    heartbeatTimeoutS: r.heartbeatTimeoutS,
    statusTtlS: r.statusTtlS,
    deadline: r.deadline,
    lastEventAt: r.lastEventAt,
    nextSeq: r.nextSeq,
    outputBytes: r.outputBytes,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    dispatchedAt: r.dispatchedAt,
    finishedAt: r.finishedAt,
  };
}

/** The run with a row version, member by member (see withoutVersion). */
export function withVersion(r: RunRow, version: string): VersionedRun {
  const copy = withoutVersion(r) as VersionedRun;
  copy.version = version;
  return copy;
}

/** Runs kept at most: runs still going, oldest write first out. */
export const RUN_VERSIONS_LIMIT = 4_096;

export function createRunVersions(limit = RUN_VERSIONS_LIMIT): RunVersions {
  const byId = new Map<string, VersionedRun>();
  return {
    get: (runId) => byId.get(runId),
    remember(run) {
      byId.delete(run.id);
      if (isTerminal(run.state as RunState)) return;
      byId.set(run.id, run);
      if (byId.size > limit) byId.delete(byId.keys().next().value!);
    },
    forget(runId) {
      byId.delete(runId);
    },
    get size() {
      return byId.size;
    },
  };
}
