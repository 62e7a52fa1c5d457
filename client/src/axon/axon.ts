/**
 * `createAxon`: an agent that announces a service over MQTT, receives command
 * envelopes for it, runs one handler per action (or a runner per registry
 * definition kind) and reports every step as event envelopes.
 *
 * Lifecycle: connect (client id = service id, persistent session), subscribe to
 * `{prefix}/command/{serviceId}`, announce on `{prefix}/discovery/{serviceId}`,
 * re-announce every ttl/2, reconnect with backoff (re-subscribing and
 * re-announcing), announce `offline` on `stop()`. Events go out with QoS 1; while
 * the broker is unreachable they wait in the MQTT client's store and are sent on
 * reconnection.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { clip, errorData, fitData, splitText } from './chunk.js';
import { SeenIds } from './dedup.js';
import { abortKind, ActionError, RunAborted } from './errors.js';
import { uuidv7 } from './ids.js';
import {
  type ActionItem,
  buildEvent,
  buildSnapshot,
  type AxonEventType,
  type Command,
  type CommandDefinition,
  DEFAULT_TENANT,
  DEFAULT_TOPIC_PREFIX,
  type EventData,
  ID_PATTERN,
  parseCommand,
  TENANT_PATTERN,
  topicsFor,
} from './protocol.js';

/** What a handler gets for one run. */
export interface ActionContext {
  /** `parameters.input` of the command (`null` when absent). */
  readonly input: unknown;
  readonly runId: string;
  readonly actionId: string;
  /** The command id (every event's `correlationId`). */
  readonly commandId: string;
  readonly serviceId: string;
  readonly traceId: string;
  /** Registry definition runs: `{id, kind, spec, version}`. */
  readonly definition: CommandDefinition | undefined;
  /** The parsed command (its raw envelope in `command.raw`). */
  readonly command: Command;
  /**
   * Aborted on `synapse.run.cancel`, when the command's deadline passes, or when the
   * Axon stops; `signal.reason` is a `RunAborted` with its `kind`.
   */
  readonly signal: AbortSignal;
  /** Sends a `progress` event; `fraction` is clamped to 0..1. */
  progress(fraction: number, message?: string): void;
  /**
   * Sends `output` events (split so that each stays well under the 64 KiB `data` limit).
   * `extra` members are added to each event's `data` (e.g. `{truncated: true}`).
   */
  output(chunk: string | Uint8Array, stream?: 'stdout' | 'stderr', extra?: Record<string, unknown>): void;
}

/** A handler: its result becomes `data.output` of `succeeded`; a throw ends the run `failed`. */
export type ActionHandler = (ctx: ActionContext) => unknown;

export interface ActionDeclaration {
  handler: ActionHandler;
  label?: string;
  style?: string;
  confirm?: boolean | string;
}

/** Executes registry definitions of one kind (`parameters.definition.kind`). */
export interface Runner {
  readonly kind: string;
  run(ctx: ActionContext, definition: CommandDefinition): Promise<unknown>;
}

/** Settings of the built-in runners (Node only). */
export interface RunnerOptions {
  /** Directory every command `cwd` must stay inside (symlinks followed). Default: the process's working directory. */
  root?: string;
  /** Output of one run sent as events, in bytes; then one truncation marker. Default 8 MiB. */
  maxOutputBytes?: number;
  /** Between SIGTERM and SIGKILL of the process group, ms. Default 5000. */
  killGraceMs?: number;
  /** The prompt runner's agent command (no shell): a template, or argv. Default `codex exec --model {model} -c reasoning={reasoning}`. */
  promptCommand?: string | readonly string[];
  /** Environment of the processes; default: this process's, without `MQTT_PASSWORD` and `SYNAPSE_TOKEN`. */
  env?: Record<string, string | undefined>;
}

export type BuiltinRunner = 'command' | 'prompt';

export interface AxonLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface AxonOptions {
  /** Broker URL: `mqtt://host:1883`, `mqtts://…`, `ws://…`. */
  url: string;
  /** The service id (`^[A-Za-z0-9_-]{1,128}$`); also the MQTT client id. */
  serviceId: string;
  /** Display name; default the service id. */
  name?: string;
  /** Seconds the gateway keeps the service online without a snapshot. Default 30; re-announced every ttl/2. */
  ttl?: number;
  /** One handler per action id. */
  actions?: Record<string, ActionHandler | ActionDeclaration>;
  /** Registry definition kinds this Axon executes: `'command'`, `'prompt'` (Node only) or your own `Runner`s. None by default. */
  runners?: ReadonlyArray<BuiltinRunner | Runner>;
  runnerOptions?: RunnerOptions;
  /** MQTT username/password; `authToken` is sent as the snapshot's `auth_token`. */
  credentials?: { username?: string; password?: string; authToken?: string };
  /** Topic prefix. Default `synapse/v1`. */
  prefix?: string;
  /** Tenant of the events' `source`. Default `default`. */
  tenant?: string;
  description?: string;
  group?: string;
  tags?: readonly string[];
  /** Reconnection backoff. Default 500 ms doubling to 30 s, with jitter. */
  reconnect?: BackoffOptions;
  /** Used when a command carries no `heartbeatTimeout`, seconds. Default 30. */
  defaultHeartbeatTimeoutS?: number;
  /** After a cancel, how long to wait for the handler to stop before reporting `cancelled` anyway, ms. Default 7000. */
  cancelGraceMs?: number;
  /** Unacknowledged events beyond which `output`, `progress` and `heartbeat` events are dropped (outcomes never are). Default 10 000. */
  maxBufferedEvents?: number;
  /** Command ids remembered for deduplication. Default 10 000. */
  rememberCommands?: number;
  logger?: AxonLogger;
  /** More mqtt.js options. */
  mqtt?: Partial<IClientOptions>;
}

export interface AxonStats {
  /** Commands received (duplicates included). */
  received: number;
  /** Redelivered commands that were ignored. */
  duplicates: number;
  /** Runs started (handlers or runners invoked). */
  started: number;
  /** Non-outcome events dropped because too many were waiting for the broker. */
  dropped: number;
}

export interface Axon {
  readonly serviceId: string;
  readonly topics: { discovery: string; command: string; event: string };
  readonly connected: boolean;
  /** Runs whose handler is still going. */
  readonly activeRuns: number;
  readonly stats: Readonly<AxonStats>;
  /** Connects, subscribes and announces; resolves once that is done the first time (retrying with backoff meanwhile). */
  start(): Promise<void>;
  /** Aborts running handlers, announces `offline` and disconnects, within about 3 s. */
  stop(): Promise<void>;
  /** Publishes the snapshot now (e.g. after changing the status or message). */
  announce(patch?: { status?: 'online' | 'warning' | 'error' | 'offline'; message?: string }): Promise<void>;
}

const CHUNK_RAW_BYTES = 16 * 1024;
const CHUNK_JSON_BYTES = 48 * 1024;

const defaultLogger: AxonLogger = {
  warn: (message, fields) => console.error(`[axon] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
  error: (message, fields) => console.error(`[axon] ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`),
};

interface RunState {
  command: Command;
  controller: AbortController;
  outcomeSent: boolean;
  lastEventAt: number;
  settled: Promise<void>;
}

function isDeclaration(v: ActionHandler | ActionDeclaration): v is ActionDeclaration {
  return typeof v === 'object' && v !== null && typeof (v as ActionDeclaration).handler === 'function';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, sleep(ms).then(() => undefined)]).catch(() => undefined);

/** Creates an Axon; call `start()` to connect. */
export function createAxon(options: AxonOptions): Axon {
  const { serviceId } = options;
  if (!ID_PATTERN.test(serviceId)) throw new TypeError(`serviceId must match ${ID_PATTERN}`);
  const tenant = options.tenant ?? DEFAULT_TENANT;
  if (!TENANT_PATTERN.test(tenant)) throw new TypeError(`tenant must match ${TENANT_PATTERN}`);
  const ttl = options.ttl ?? 30;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) throw new TypeError('ttl must be an integer number of seconds, 1..86400');
  const topics = topicsFor(options.prefix ?? DEFAULT_TOPIC_PREFIX, serviceId);
  const logger = options.logger ?? defaultLogger;
  const maxBuffered = options.maxBufferedEvents ?? 10_000;
  const cancelGraceMs = options.cancelGraceMs ?? 7_000;

  const handlers = new Map<string, ActionHandler>();
  const items: ActionItem[] = [];
  for (const [id, decl] of Object.entries(options.actions ?? {})) {
    if (!ID_PATTERN.test(id)) throw new TypeError(`action id ${JSON.stringify(id)} must match ${ID_PATTERN}`);
    if (isDeclaration(decl)) {
      handlers.set(id, decl.handler);
      items.push({ id, ...(decl.label !== undefined ? { label: decl.label } : {}), ...(decl.style !== undefined ? { style: decl.style } : {}), ...(decl.confirm !== undefined ? { confirm: decl.confirm } : {}) });
    } else if (typeof decl === 'function') {
      handlers.set(id, decl);
      items.push({ id });
    } else {
      throw new TypeError(`action ${id}: expected a handler function or {handler}`);
    }
  }
  const runnerSpecs = options.runners ?? [];
  const runnerKinds = runnerSpecs.map((r) => (typeof r === 'string' ? r : r.kind));
  const runners = new Map<string, Runner>();

  const stats: AxonStats = { received: 0, duplicates: 0, started: 0, dropped: 0 };
  const seenCommands = new SeenIds(options.rememberCommands ?? 10_000);
  const finishedRuns = new SeenIds(options.rememberCommands ?? 10_000);
  const cancelledEarly = new SeenIds(1_000);
  const active = new Map<string, RunState>();
  let status: 'online' | 'warning' | 'error' | 'offline' = 'online';
  let message: string | undefined;
  let client: MqttClient | undefined;
  let inflight = 0;
  let droppedWarned = false;
  let announceTimer: ReturnType<typeof setInterval> | undefined;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let attempts = 0;
  let stopping = false;
  let started: Promise<void> | undefined;

  const snapshot = (s = status) =>
    JSON.stringify(
      buildSnapshot({
        serviceId,
        ttl,
        actions: items,
        runners: runnerKinds,
        status: s,
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.credentials?.authToken !== undefined ? { authToken: options.credentials.authToken } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.group !== undefined ? { group: options.group } : {}),
        ...(options.tags !== undefined ? { tags: options.tags } : {}),
        ...(message !== undefined ? { message } : {}),
      }),
    );

  /** QoS 1 publish; resolves when the broker acknowledged it (never rejects). */
  function publish(topic: string, payload: string, critical: boolean): Promise<void> {
    const c = client;
    if (!c) return Promise.resolve();
    if (!critical && inflight >= maxBuffered) {
      stats.dropped++;
      if (!droppedWarned) {
        droppedWarned = true;
        logger.warn('too many events waiting for the broker: dropping output, progress and heartbeat events', { waiting: inflight });
      }
      return Promise.resolve();
    }
    inflight++;
    return new Promise((resolve) => {
      c.publish(topic, payload, { qos: 1 }, (error) => {
        inflight--;
        if (inflight < maxBuffered / 2) droppedWarned = false;
        if (error && !stopping) logger.warn('publish failed', { topic, error: error.message });
        resolve();
      });
    });
  }

  function emit(command: Command, type: AxonEventType, data: EventData, state?: RunState): Promise<void> {
    const now = Date.now();
    if (state) state.lastEventAt = now;
    const envelope = buildEvent({ id: uuidv7(now), now, tenant, serviceId, type, data: fitData(data), command });
    const critical = type !== 'output' && type !== 'progress' && type !== 'heartbeat';
    return publish(topics.event, JSON.stringify(envelope), critical);
  }

  async function announce(patch: { status?: typeof status; message?: string } = {}): Promise<void> {
    if (patch.status !== undefined) status = patch.status;
    if (patch.message !== undefined) message = patch.message;
    if (!client?.connected) return;
    await publish(topics.discovery, snapshot(), true);
  }

  function outcomeOf(error: unknown): { type: 'failed' | 'rejected'; data: EventData } {
    if (error instanceof ActionError) {
      return { type: error.outcome, data: { status: error.outcome, reason: clip(error.reason ?? error.message, 1000), error: errorData(error) } };
    }
    const data = errorData(error);
    return { type: 'failed', data: { status: 'failed', reason: clip(String(data.message), 1000), error: data } };
  }

  async function finish(state: RunState, type: AxonEventType, data: EventData): Promise<void> {
    if (state.outcomeSent) return;
    state.outcomeSent = true;
    finishedRuns.add(state.command.runId);
    logger.info?.('run finished', { runId: state.command.runId, actionId: state.command.actionId, outcome: type, ...(typeof data.reason === 'string' ? { reason: data.reason } : {}) });
    await emit(state.command, type, data, state);
  }

  async function execute(command: Command): Promise<void> {
    const { runId } = command;
    if (active.has(runId) || finishedRuns.has(runId)) {
      logger.warn('a second command for a run already handled here: ignored', { runId, commandId: command.id });
      return;
    }
    if (command.deadline !== undefined && command.deadline <= Date.now()) {
      finishedRuns.add(runId);
      logger.warn('command expired before it could start', { runId, actionId: command.actionId });
      await emit(command, 'expired', { status: 'expired', reason: 'deadline passed', deadline: new Date(command.deadline).toISOString() });
      return;
    }
    if (cancelledEarly.has(runId)) {
      finishedRuns.add(runId);
      await emit(command, 'cancelled', { status: 'cancelled', reason: 'cancelled before it started' });
      return;
    }
    let handler: ((ctx: ActionContext) => unknown) | undefined;
    if (command.definition) {
      const definition = command.definition;
      const runner = runners.get(definition.kind);
      if (runner) handler = (ctx) => runner.run(ctx, definition);
      else {
        finishedRuns.add(runId);
        logger.warn('rejected a definition run: runner not enabled', { runId, kind: definition.kind });
        await emit(command, 'rejected', {
          status: 'rejected',
          reason: `this Axon does not run ${clip(definition.kind, 64)} definitions`,
          error: { code: 'runner_not_enabled', message: `runner ${clip(definition.kind, 64)} is not enabled on ${serviceId}`, runners: runnerKinds },
        });
        return;
      }
    } else {
      handler = handlers.get(command.actionId);
      if (!handler) {
        finishedRuns.add(runId);
        logger.warn('rejected an unknown action', { runId, actionId: command.actionId });
        await emit(command, 'rejected', {
          status: 'rejected',
          reason: `unknown action ${clip(command.actionId, 128)}`,
          error: { code: 'unknown_action', message: `${serviceId} has no action ${clip(command.actionId, 128)}`, actions: [...handlers.keys()].slice(0, 64) },
        });
        return;
      }
    }

    const controller = new AbortController();
    let settle!: () => void;
    const state: RunState = { command, controller, outcomeSent: false, lastEventAt: Date.now(), settled: new Promise((r) => (settle = r)) };
    active.set(runId, state);
    stats.started++;
    logger.info?.('run started', { runId, actionId: command.actionId, ...(command.definition ? { definition: command.definition.id, kind: command.definition.kind } : {}) });
    const timers: Array<ReturnType<typeof setTimeout>> = [];
    try {
      void emit(command, 'accepted', { status: 'accepted' }, state);
      void emit(command, 'started', { status: 'running' }, state);
      if (command.deadline !== undefined) {
        const left = Math.min(2 ** 31 - 1, Math.max(0, command.deadline - Date.now()));
        timers.push(setTimeout(() => controller.abort(new RunAborted('deadline')), left));
      }
      const periodMs = ((command.heartbeatTimeout ?? options.defaultHeartbeatTimeoutS ?? 30) * 1000) / 3;
      const beat = setInterval(() => {
        if (!state.outcomeSent && Date.now() - state.lastEventAt >= periodMs * 0.9) void emit(command, 'heartbeat', { status: 'running' }, state);
      }, periodMs);
      timers.push(beat);
      const ctx: ActionContext = {
        input: command.input,
        runId,
        actionId: command.actionId,
        commandId: command.id,
        serviceId,
        traceId: command.traceId,
        definition: command.definition,
        command,
        signal: controller.signal,
        progress(fraction, text) {
          if (state.outcomeSent) return;
          const p = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
          void emit(command, 'progress', { status: 'running', progress: p, ...(text !== undefined ? { message: clip(String(text), 4000) } : {}) }, state);
        },
        output(chunk, stream = 'stdout', extra) {
          if (state.outcomeSent) return;
          const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
          for (const piece of splitText(text, CHUNK_RAW_BYTES, CHUNK_JSON_BYTES)) void emit(command, 'output', { ...extra, status: 'running', chunk: piece, stream }, state);
        },
      };
      let result: { ok: true; value: unknown } | { ok: false; error: unknown };
      try {
        result = { ok: true, value: await handler(ctx) };
      } catch (error) {
        result = { ok: false, error };
      }
      const kind = abortKind(controller.signal);
      if (kind === 'cancel') await finish(state, 'cancelled', { status: 'cancelled', reason: 'cancelled on request' });
      else if (kind === 'deadline' && !result.ok) await finish(state, 'failed', { status: 'failed', reason: 'deadline', error: { code: 'deadline', message: 'the deadline passed while the action ran' } });
      else if (kind === 'shutdown' && !result.ok) await finish(state, 'failed', { status: 'failed', reason: 'axon stopping', error: { code: 'shutdown', message: 'the Axon stopped while the action ran' } });
      else if (result.ok) await finish(state, 'succeeded', { status: 'succeeded', output: result.value === undefined ? null : result.value });
      else {
        const { type, data } = outcomeOf(result.error);
        if (type === 'rejected') logger.warn('run rejected', { runId, reason: data.reason });
        await finish(state, type, data);
      }
    } finally {
      for (const t of timers) clearTimeout(t);
      active.delete(runId);
      settle();
    }
  }

  function cancel(command: Command): void {
    const state = active.get(command.runId);
    if (!state) {
      if (!finishedRuns.has(command.runId)) cancelledEarly.add(command.runId);
      return;
    }
    if (state.controller.signal.aborted) return;
    logger.info?.('cancelling run', { runId: command.runId });
    state.controller.abort(new RunAborted('cancel'));
    const grace = setTimeout(() => {
      if (!state.outcomeSent) {
        logger.warn('handler still running after cancel: reporting cancelled anyway', { runId: command.runId });
        void finish(state, 'cancelled', { status: 'cancelled', reason: 'cancelled on request (handler did not stop in time)' });
      }
    }, cancelGraceMs);
    void state.settled.then(() => clearTimeout(grace));
  }

  function onMessage(topic: string, payload: Buffer): void {
    if (topic !== topics.command) return;
    stats.received++;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      logger.warn('ignored a command that is not JSON', { bytes: payload.length });
      return;
    }
    const parsed = parseCommand(body);
    if (!parsed.ok) {
      logger.warn(parsed.legacy ? 'ignored a legacy command without an envelope' : `ignored an invalid command: ${parsed.reason}`);
      return;
    }
    const command = parsed.command;
    if (!seenCommands.add(command.id)) {
      stats.duplicates++;
      logger.debug?.('duplicate command ignored', { commandId: command.id });
      return;
    }
    if (command.tenant !== tenant) logger.warn('command of another tenant; its events will name this Axon\'s tenant', { commandTenant: command.tenant, tenant });
    if (command.verb === 'cancel') cancel(command);
    else void execute(command).catch((error: unknown) => logger.error('run failed unexpectedly', { runId: command.runId, error: String(error) }));
  }

  async function loadRunners(): Promise<void> {
    const builtins = runnerSpecs.filter((r): r is BuiltinRunner => typeof r === 'string');
    if (builtins.length > 0) {
      const { createBuiltinRunner } = await import('./runners/index.js');
      for (const kind of builtins) runners.set(kind, createBuiltinRunner(kind, options.runnerOptions ?? {}));
    }
    for (const r of runnerSpecs) if (typeof r !== 'string') runners.set(r.kind, r);
  }

  function start(): Promise<void> {
    started ??= (async () => {
      await loadRunners();
      await new Promise<void>((resolve) => {
        const c = mqtt.connect(options.url, {
          clientId: serviceId,
          clean: false,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
          protocolVersion: 4,
          keepalive: 30,
          ...(options.credentials?.username !== undefined ? { username: options.credentials.username } : {}),
          ...(options.credentials?.password !== undefined ? { password: options.credentials.password } : {}),
          ...options.mqtt,
        });
        client = c;
        c.on('message', onMessage);
        c.on('error', (error) => logger.warn('mqtt error', { error: error.message }));
        c.on('connect', () => {
          attempts = 0;
          logger.info?.('connected', { url: options.url, serviceId });
          void (async () => {
            try {
              await c.subscribeAsync(topics.command, { qos: 1 });
            } catch (error) {
              logger.warn('subscribe failed', { error: String(error) });
            }
            await announce();
            announceTimer ??= setInterval(() => void announce(), (ttl * 1000) / 2);
            resolve();
          })();
        });
        c.on('close', () => {
          if (stopping || reconnectTimer) return;
          const delay = backoffDelay(attempts++, options.reconnect);
          logger.warn('disconnected from the broker; reconnecting', { inMs: delay });
          reconnectTimer = setTimeout(() => {
            reconnectTimer = undefined;
            if (!stopping) c.reconnect({ incomingStore: c.incomingStore, outgoingStore: c.outgoingStore });
          }, delay);
        });
      });
    })();
    return started;
  }

  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearInterval(announceTimer);
    clearTimeout(reconnectTimer);
    // Budget about 3 s: running handlers get up to 1 s to report, the offline snapshot up to 1.5 s.
    const running = [...active.values()];
    for (const state of running) state.controller.abort(new RunAborted('shutdown'));
    if (running.length > 0) await within(Promise.all(running.map((s) => s.settled)), 1_000);
    const c = client;
    if (!c) return;
    if (c.connected) {
      status = 'offline';
      await within(publish(topics.discovery, snapshot('offline'), true), 1_500);
    }
    const ended = await within(c.endAsync().then(() => true), 400);
    if (!ended) c.end(true);
  }

  return {
    serviceId,
    topics,
    get connected() {
      return client?.connected ?? false;
    },
    get activeRuns() {
      return active.size;
    },
    stats,
    start,
    stop,
    announce,
  };
}

/** `createAxon(options)` and `start()` in one call. */
export async function startAxon(options: AxonOptions): Promise<Axon> {
  const axon = createAxon(options);
  await axon.start();
  return axon;
}
