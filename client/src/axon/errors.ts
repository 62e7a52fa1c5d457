/** Errors a handler or runner throws to choose how its run ends. Pure. */

export interface ActionErrorOptions {
  /** A machine code, e.g. `timeout`, `exit_code`, `cwd_outside_root`. Sent as `data.error.code`. */
  code?: string;
  /** The run's reason as the gateway shows it (`data.reason`); default: the message. */
  reason?: string;
  /** `failed` (default) or `rejected` (the Axon refused to run it at all). */
  outcome?: 'failed' | 'rejected';
  /** More members of `data.error`, e.g. `{exitCode: 2}`. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Thrown by a handler: the run ends `failed` (or `rejected`) with this code, reason and details. */
export class ActionError extends Error {
  override name = 'ActionError';
  readonly code: string | undefined;
  readonly reason: string | undefined;
  readonly outcome: 'failed' | 'rejected';
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: ActionErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.reason = options.reason;
    this.outcome = options.outcome ?? 'failed';
    this.details = options.details;
  }
}

export type AbortKind = 'cancel' | 'deadline' | 'shutdown';

/** The `reason` of a handler's aborted `signal`: why the run must stop. */
export class RunAborted extends Error {
  override name = 'RunAborted';
  constructor(
    readonly kind: AbortKind,
    message: string = kind === 'cancel' ? 'cancelled on request' : kind === 'deadline' ? 'deadline passed' : 'the Axon is stopping',
  ) {
    super(message);
  }
}

/** The `RunAborted` reason of an aborted signal, if any. */
export function abortKind(signal: AbortSignal): AbortKind | undefined {
  return signal.aborted && signal.reason instanceof RunAborted ? signal.reason.kind : undefined;
}
