/** Text rendering for `synapse tail`. Pure. */

/** `[██████░░░░]  60% message`, at most `width` characters of bar. */
export function progressBar(fraction: number, message = '', width = 30): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const filled = Math.round(f * width);
  const pct = `${Math.round(f * 100)}%`.padStart(4);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${pct}${message ? ` ${message}` : ''}`;
}

export interface TailEvent {
  seq: number;
  type: string;
  state: string;
  reason?: string | null;
  data?: Record<string, unknown> | null;
}

export const shortType = (type: string): string => type.replace(/^aionix\.openact\.action\./, '');

/** One line for an event that is not output or progress. */
export function eventLine(e: TailEvent): string {
  const reason = e.reason ? ` (${e.reason})` : '';
  return `#${e.seq} ${shortType(e.type)} → ${e.state}${reason}`;
}

export const TERMINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'rejected', 'cancelled', 'timed_out', 'lost', 'expired']);
