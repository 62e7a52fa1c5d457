// The gateway's whole configuration: environment variables parsed by one zod schema.
// Every variable has a documented default (docs/operations.md); a bad value stops
// start-up with a message naming the variable and what it accepts.
import { z } from 'zod';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'accepts true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1' || v === 'yes'));

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'accepts a port number 0..65535' })
    .int('accepts a port number 0..65535')
    .min(0, 'accepts a port number 0..65535')
    .max(65535, 'accepts a port number 0..65535')
    .default(fallback);

const positiveInt = (fallback: number, max: number) =>
  z.coerce
    .number({ error: `accepts a whole number 1..${max}` })
    .int(`accepts a whole number 1..${max}`)
    .min(1, `accepts a whole number 1..${max}`)
    .max(max, `accepts a whole number 1..${max}`)
    .default(fallback);

/** A rate in events per second; 0 turns the limit off. */
const rate = (fallback: number, max: number) =>
  z.coerce
    .number({ error: `accepts a number 0..${max} (per second; 0 turns the limit off)` })
    .min(0, `accepts a number 0..${max} (per second; 0 turns the limit off)`)
    .max(max, `accepts a number 0..${max} (per second; 0 turns the limit off)`)
    .default(fallback);

const url = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || isUrlWith(v, protocols), {
      message: `accepts a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
    });

function isUrlWith(value: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

export const configSchema = z.object({
  PORT: port(4000),
  HOST: z.string().trim().min(1, 'accepts a host name or IP address').default('127.0.0.1'),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  SYNAPSE_DATA_DIR: z.string().trim().min(1, 'accepts a directory path').default('.synapse'),
  MQTT_URL: url(['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:']),
  MQTT_PORT: port(1883),
  MQTT_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'accepts topic levels of letters, digits, _ and - separated by /')
    .default('synapse/v1'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'accepts fatal, error, warn, info, debug, trace or silent',
    })
    .default('info'),
  STEPFLOW_EVENTS_URL: url(['http:', 'https:']),
  SYNAPSE_REPO_ROOT: z.string().trim().min(1, 'accepts a directory path').optional(),
  SYNAPSE_PROMPT_MODEL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : 'gpt-5.3-codex')),
  SYNAPSE_DEFAULT_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'accepts 1..63 letters, digits, _ and -')
    .default('default'),
  SYNAPSE_GRAPHIQL: bool(true),
  /** An admin key (all scopes, default tenant) accepted as written; created at start-up if missing. */
  SYNAPSE_BOOTSTRAP_ADMIN_KEY: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || (v.length >= 32 && v.length <= 100 && /^[\x21-\x7e]+$/.test(v)), {
      message: 'accepts 32..100 printable characters without spaces (for example: openssl rand -base64 32)',
    }),
  SYNAPSE_GRAPHQL_JIT: bool(true),
  SYNAPSE_DB_POOL_SIZE: positiveInt(10, 200),
  SYNAPSE_SHUTDOWN_TIMEOUT_MS: positiveInt(10_000, 600_000),
  SYNAPSE_MAX_BODY_BYTES: positiveInt(1_048_576, 16_777_216),
  // GraphQL and HTTP hardening (docs/security.md). The same limits hold on HTTP, SSE and graphql-ws.
  SYNAPSE_INTROSPECTION: bool(true),
  SYNAPSE_PERSISTED_ONLY: bool(false),
  /** The persisted-operations manifest (sha256 → document); the client package's one by default. */
  SYNAPSE_PERSISTED_MANIFEST: z.string().trim().min(1, 'accepts a file path').optional(),
  SYNAPSE_MAX_DEPTH: positiveInt(12, 1_000),
  SYNAPSE_MAX_ALIASES: positiveInt(30, 10_000),
  SYNAPSE_MAX_DIRECTIVES: positiveInt(50, 10_000),
  SYNAPSE_MAX_TOKENS: positiveInt(5_000, 1_000_000),
  SYNAPSE_MAX_COST: positiveInt(20_000, 100_000_000),
  SYNAPSE_TRIGGER_RATE_PER_IP: rate(50, 1_000_000),
  SYNAPSE_TRIGGER_BURST_PER_IP: positiveInt(500, 1_000_000),
  SYNAPSE_TRIGGER_RATE_PER_KEY: rate(50, 1_000_000),
  SYNAPSE_TRIGGER_BURST_PER_KEY: positiveInt(500, 1_000_000),
  SYNAPSE_WS_MAX_CONNECTIONS_PER_IP: positiveInt(256, 1_000_000),
  SYNAPSE_WS_KEEPALIVE_MS: positiveInt(12_000, 600_000),
  MQTT_CLIENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'accepts 1..64 letters, digits, _ and -')
    .optional(),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  SYNAPSE_LEGACY_AXON_TOKEN: z.string().optional(),
  SYNAPSE_HEARTBEAT_TIMEOUT_S: positiveInt(30, 3_600),
  SYNAPSE_STATUS_TTL_S: positiveInt(600, 86_400),
  SYNAPSE_OFFLINE_SWEEP_MS: positiveInt(250, 10_000),
  SYNAPSE_RUN_SWEEP_MS: positiveInt(250, 60_000),
  SYNAPSE_OUTBOX_PAUSED: bool(false),
  /** Signs Stepflow deliveries (Synapse-Signature) when set. No rule can fail: a failing value would be echoed at start-up. */
  STEPFLOW_EVENTS_SECRET: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined)),
  SYNAPSE_WEBHOOK_BASE_MS: positiveInt(1_000, 3_600_000),
  SYNAPSE_WEBHOOK_CAP_MS: positiveInt(300_000, 86_400_000),
  SYNAPSE_WEBHOOK_MAX_ATTEMPTS: positiveInt(12, 100),
  SYNAPSE_WEBHOOK_TIMEOUT_MS: positiveInt(10_000, 600_000),
  SYNAPSE_WEBHOOK_CONCURRENCY: positiveInt(16, 256),
  /** Webhook endpoints may name loopback and private addresses (off: SSRF protection). */
  SYNAPSE_WEBHOOK_ALLOW_PRIVATE: bool(false),
});

export type GatewayConfig = z.output<typeof configSchema>;

/** Never echoed in a message, whatever is wrong with them. */
const SECRET_VARIABLES = new Set(['SYNAPSE_BOOTSTRAP_ADMIN_KEY', 'MQTT_PASSWORD', 'STEPFLOW_EVENTS_SECRET', 'SYNAPSE_LEGACY_AXON_TOKEN']);

export type ConfigResult = { ok: true; config: GatewayConfig } | { ok: false; problems: string[] };

/** Parses an environment; problems name the variable and what it accepts. */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const got = env[name];
    const shown = got === undefined || SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(redactUrl(got))})`;
    return `${name} ${issue.message}${shown}`;
  });
  return { ok: false, problems };
}

/** Removes credentials before a value is shown: URLs often carry passwords. */
export function redactUrl(value: string): string {
  // Pattern, not URL parsing: a URL too broken to parse may still hold a password.
  return value.replace(/\/\/[^/@\s]*@/g, '//***@');
}
