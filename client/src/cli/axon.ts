/** `synapse axon`: runs an Axon from the command line. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ActionDeclaration, type AxonLogger, type BuiltinRunner, createAxon } from '../axon/axon.js';
import { ID_PATTERN } from '../axon/protocol.js';
import { DEFAULT_PROMPT_COMMAND } from '../axon/runners/prompt.js';
import { shellAction } from '../axon/runners/command.js';
import { DEFAULT_BROKER, EXIT, type CliIo, UsageError } from './io.js';

export const AXON_USAGE = `Usage: synapse axon --service <id> [--action <id>=<command>]... [options]

Runs an Axon: announces the service, runs its actions when triggered and reports
every step to the gateway. Stops (announcing offline) on Ctrl-C or SIGTERM.

Options:
  --service <id>            service id, also the MQTT client id (required)
  --name <text>             display name (default: the service id)
  --action <id>=<command>   an action that runs <command> with bash -c in --root; the
                            run's input arrives as JSON on stdin and in SYNAPSE_INPUT.
                            Repeatable.
  --action-timeout <s>      timeout of --action commands (default 300)
  --allow-command           run registry definitions of kind "command" (off by default)
  --allow-prompt            run registry definitions of kind "prompt" (off by default)
  --prompt-command <tpl>    agent command of the prompt runner
                            (default "${DEFAULT_PROMPT_COMMAND}")
  --root <dir>              directory every command's cwd must stay in (default: .)
  --max-output <bytes>      output of one run sent as events (default just under 8 MiB)
  --ttl <s>                 seconds the gateway keeps the service online (default 30)
  --broker <url>            MQTT broker (env MQTT_URL; default ${DEFAULT_BROKER})
  --prefix <prefix>         topic prefix (env MQTT_TOPIC_PREFIX; default synapse/v1)
  --tenant <tenant>         tenant of the events (default "default")
  --username <name>         MQTT username (env MQTT_USERNAME)
  --password <secret>       MQTT password (env MQTT_PASSWORD; prefer the variable)
  --quiet                   only warnings and errors on stderr
  -h, --help

Example:
  synapse axon --service demo --action restart=./restart.sh --allow-command
`;

export async function axonCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      service: { type: 'string' },
      name: { type: 'string' },
      action: { type: 'string', multiple: true, default: [] },
      'action-timeout': { type: 'string' },
      'allow-command': { type: 'boolean', default: false },
      'allow-prompt': { type: 'boolean', default: false },
      'prompt-command': { type: 'string' },
      root: { type: 'string' },
      'max-output': { type: 'string' },
      ttl: { type: 'string' },
      broker: { type: 'string' },
      prefix: { type: 'string' },
      tenant: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(AXON_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`axon: unexpected argument ${JSON.stringify(positionals[0])}`);
  const serviceId = values.service;
  if (!serviceId) throw new UsageError('axon: --service <id> is required');
  if (!ID_PATTERN.test(serviceId)) throw new UsageError('axon: --service must match [A-Za-z0-9_-]{1,128}');
  const int = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    if (!/^\d{1,12}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`axon: --${name} must be an integer from ${min} to ${max}`);
    return Number(raw);
  };
  const ttl = int('ttl', values.ttl, 1, 86_400);
  const actionTimeout = int('action-timeout', values['action-timeout'], 1, 86_400);
  const maxOutput = int('max-output', values['max-output'], 1024, 1024 * 1024 * 1024);
  const root = path.resolve(values.root ?? '.');
  const runners: BuiltinRunner[] = [];
  if (values['allow-command']) runners.push('command');
  if (values['allow-prompt']) runners.push('prompt');
  const runnerOptions = {
    root,
    ...(maxOutput !== undefined ? { maxOutputBytes: maxOutput } : {}),
    ...(values['prompt-command'] !== undefined ? { promptCommand: values['prompt-command'] } : {}),
  };
  const actions: Record<string, ActionDeclaration> = {};
  for (const spec of values.action) {
    const eq = spec.indexOf('=');
    const id = eq > 0 ? spec.slice(0, eq) : '';
    const command = eq > 0 ? spec.slice(eq + 1) : '';
    if (!ID_PATTERN.test(id) || command.trim() === '') throw new UsageError(`axon: --action must be <id>=<command>, got ${JSON.stringify(spec)}`);
    if (actions[id]) throw new UsageError(`axon: action ${id} is given twice`);
    actions[id] = { handler: shellAction(command, { ...runnerOptions, ...(actionTimeout !== undefined ? { timeoutS: actionTimeout } : {}) }) };
  }
  if (Object.keys(actions).length === 0 && runners.length === 0) {
    throw new UsageError('axon: nothing to run: give at least one --action, --allow-command or --allow-prompt');
  }
  const broker = values.broker ?? io.env.MQTT_URL ?? DEFAULT_BROKER;
  const username = values.username ?? io.env.MQTT_USERNAME;
  const password = values.password ?? io.env.MQTT_PASSWORD;
  const line = (level: string, message: string, fields?: Record<string, unknown>) =>
    io.stderr.write(`${new Date().toISOString()} ${level} ${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  const logger: AxonLogger = {
    ...(values.quiet ? {} : { info: (m: string, f?: Record<string, unknown>) => line('info', m, f) }),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };

  let axon;
  try {
    axon = createAxon({
      url: broker,
      serviceId,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(ttl !== undefined ? { ttl } : {}),
      actions,
      runners,
      runnerOptions,
      ...(values.prefix ?? io.env.MQTT_TOPIC_PREFIX ? { prefix: (values.prefix ?? io.env.MQTT_TOPIC_PREFIX)! } : {}),
      ...(values.tenant !== undefined ? { tenant: values.tenant } : {}),
      ...(username !== undefined || password !== undefined ? { credentials: { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) } } : {}),
      logger,
    });
  } catch (error) {
    throw new UsageError(`axon: ${(error as Error).message}`);
  }
  const a = axon;
  let stopping: Promise<void> | undefined;
  const stopped = new Promise<number>((resolve) => {
    const off = io.onSignal?.((signal) => {
      line('info', `${signal}: stopping`);
      stopping ??= a.stop().then(() => {
        off?.();
        resolve(EXIT.ok);
      });
    });
  });
  line('info', `axon ${serviceId} connecting to ${broker}`, { actions: Object.keys(actions), runners, root });
  await Promise.race([a.start(), stopped]);
  if (!stopping) line('info', `axon ${serviceId} online`, { topics: a.topics });
  return stopped;
}
