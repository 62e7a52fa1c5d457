// A test Axon speaking plain MQTT (mqtt.js): announces a discovery snapshot,
// records the command envelopes it receives and can answer with events.
import { randomUUID } from 'node:crypto';
import { type AxonEventType, buildEvent } from '@synapse-gateway/client/axon';
import mqtt, { type MqttClient } from 'mqtt';

export interface TestAxonOptions {
  url: string;
  prefix: string;
  serviceId: string;
  actions?: string[];
  runners?: string[];
  ttl?: number;
  /** false (default): a persistent session, as a real Axon keeps. */
  clean?: boolean;
  shape?: 'v1' | 'mvp';
  tenant?: string;
  /** MQTT user name (the service id) and password (its agent secret); anonymous without. */
  credentials?: { username: string; password: string };
  /** Called for each command; may publish events through `axon.event`. */
  respond?: (command: Command, axon: TestAxon) => Promise<void> | void;
}

export type Command = Record<string, unknown> & {
  id: string;
  traceId: string;
  target: string;
  tenant: string;
  parameters: { runId: string; actionId: string; input: unknown; serviceId: string };
};

export interface TestAxon {
  client: MqttClient;
  commands: Command[];
  announce(overrides?: Record<string, unknown>): Promise<void>;
  waitForCommands(count: number, timeoutMs?: number): Promise<Command[]>;
  /** Publishes an event envelope for a command (QoS 1). */
  event(command: Command, shortType: string, data?: Record<string, unknown>, id?: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * An EventEnvelope about `command` from `serviceId` (the client SDK's builder):
 * `data` gets `status: shortType`. Tests forge other services' events with it too.
 */
export function eventEnvelope(
  command: Command,
  serviceId: string,
  shortType: string,
  data: Record<string, unknown> = {},
  options: { id?: string; tenant?: string } = {},
): Record<string, unknown> {
  return {
    ...buildEvent({
      id: options.id ?? randomUUID(),
      now: Date.now(),
      tenant: options.tenant ?? command.tenant,
      serviceId,
      type: shortType as AxonEventType,
      data: { status: shortType, ...data },
      command: { id: command.id, target: command.target, traceId: command.traceId, runId: command.parameters.runId },
    }),
  };
}

export function snapshot(options: TestAxonOptions, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const actions = options.actions ?? ['restart'];
  if (options.shape === 'mvp') {
    return {
      api_version: 'v1',
      id: options.serviceId,
      name: `Test ${options.serviceId}`,
      status: 'online',
      ttl: options.ttl ?? 60,
      actions: actions.map((id) => ({ id, label: id })),
      ...overrides,
    };
  }
  return {
    api_version: 'v1',
    id: options.serviceId,
    name: `Test ${options.serviceId}`,
    status: 'online',
    ttl: options.ttl ?? 60,
    ...(options.runners ? { runners: options.runners } : {}),
    layout: { type: 'sections', root: [{ type: 'section', title: 'Actions', children: ['controls'] }] },
    components: { controls: { id: 'controls', type: 'action_group', items: actions.map((id) => ({ action_id: id, label: id })) } },
    ...overrides,
  };
}

export async function startTestAxon(options: TestAxonOptions): Promise<TestAxon> {
  const commandTopic = `${options.prefix}/command/${options.serviceId}`;
  const client = await mqtt.connectAsync(options.url, {
    clientId: `${options.serviceId}`.slice(0, 64),
    clean: options.clean ?? false,
    reconnectPeriod: 100,
    protocolVersion: 4,
    ...options.credentials,
  });
  const commands: Command[] = [];
  const waiters = new Set<() => void>();
  const axon: TestAxon = {
    client,
    commands,
    async announce(overrides) {
      await client.publishAsync(`${options.prefix}/discovery/${options.serviceId}`, JSON.stringify(snapshot(options, overrides)), { qos: 1 });
    },
    waitForCommands(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (commands.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(commands.slice(0, count));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} commands, received ${commands.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async event(command, shortType, data = {}, id = randomUUID()) {
      const envelope = eventEnvelope(command, options.serviceId, shortType, data, { id, tenant: options.tenant ?? command.tenant });
      await client.publishAsync(`${options.prefix}/event/${options.serviceId}`, JSON.stringify(envelope), { qos: 1 });
      return envelope;
    },
    async close() {
      await client.endAsync();
    },
  };
  client.on('message', (topic, payload) => {
    if (topic !== commandTopic) return;
    const command = JSON.parse(payload.toString()) as Command;
    commands.push(command);
    for (const w of waiters) w();
    void options.respond?.(command, axon);
  });
  await client.subscribeAsync(commandTopic, { qos: 1 });
  await axon.announce();
  return axon;
}
