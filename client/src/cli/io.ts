/** What a CLI command writes to and reads from; injectable for tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  /** Registers a handler for SIGINT/SIGTERM; returns a function that removes it. */
  onSignal?(handler: (signal: string) => void): () => void;
}

/** Exit codes of `synapse`. */
export const EXIT = {
  ok: 0,
  /** The run ended, but not `succeeded`. */
  runFailed: 1,
  usage: 2,
  /** The gateway refused or could not be reached (or the broker, for `axon`). */
  gateway: 3,
  /** `--wait` elapsed and the run is still going. */
  stillRunning: 4,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export const DEFAULT_GATEWAY = 'http://127.0.0.1:4000';
export const DEFAULT_BROKER = 'mqtt://127.0.0.1:1883';

/** The GraphQL endpoint for a gateway base URL (`/graphql` appended unless present). */
export function graphqlEndpoint(gateway: string): string {
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new UsageError(`--gateway must be a URL like ${DEFAULT_GATEWAY}, got ${JSON.stringify(gateway)}`);
  }
  if (!['http:', 'https:'].includes(url.protocol)) throw new UsageError(`--gateway must be http(s)://…, got ${url.protocol}`);
  if (!url.pathname.replace(/\/+$/, '').endsWith('/graphql')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/graphql`;
  return url.toString();
}
