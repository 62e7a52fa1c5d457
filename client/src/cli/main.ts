/** `synapse`: run an Axon, trigger actions and follow runs from a terminal. */
import { axonCommand, AXON_USAGE } from './axon.js';
import { EXIT, type CliIo, UsageError } from './io.js';
import { tailCommand, TAIL_USAGE } from './tail.js';
import { triggerCommand, TRIGGER_USAGE } from './trigger.js';

/**
 * `keys` works on the gateway's database, so it lives in the server package;
 * it is loaded only where that package is installed beside this one.
 */
async function keysCommand(argv: string[], io: CliIo): Promise<number> {
  const specifier = '@synapse-gateway/server/keys';
  let loaded: { keysCommand: (argv: string[], io: CliIo) => Promise<number> };
  try {
    loaded = (await import(specifier)) as typeof loaded;
  } catch {
    io.stderr.write('synapse keys: run it where the gateway is installed (it needs @synapse-gateway/server and the gateway\'s database settings), or use the createApiKey mutation with an admin key\n');
    return EXIT.gateway;
  }
  return loaded.keysCommand(argv, io);
}

export const USAGE = `Usage: synapse <command> [options]

Commands:
  axon      run an Axon (an agent that executes actions)
  trigger   trigger an action through the gateway and print the outcome
  tail      stream a run's events with a progress bar
  keys      create, list and revoke API keys in the gateway's database
  help      show help for a command

Examples:
  synapse axon --service demo --action restart=./restart.sh --allow-command
  synapse trigger demo restart --wait 5000
  synapse tail <runId>

Environment: SYNAPSE_URL (gateway, default http://127.0.0.1:4000), SYNAPSE_TOKEN (API key),
MQTT_URL (broker, default mqtt://127.0.0.1:1883), MQTT_TOPIC_PREFIX, MQTT_USERNAME, MQTT_PASSWORD.
Run "synapse <command> --help" for the options of a command.
`;

const HELP: Record<string, string> = { axon: AXON_USAGE, trigger: TRIGGER_USAGE, tail: TAIL_USAGE };

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
        io.stdout.write(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      case 'help': {
        const topic = rest[0];
        if (topic !== undefined && !HELP[topic]) throw new UsageError(`unknown command ${JSON.stringify(topic)}`);
        io.stdout.write(topic === undefined ? USAGE : HELP[topic]!);
        return EXIT.ok;
      }
      case 'axon':
        return await axonCommand(rest, io);
      case 'trigger':
        return await triggerCommand(rest, io);
      case 'tail':
        return await tailCommand(rest, io);
      case 'keys':
        return await keysCommand(rest, io);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`synapse: ${(error as Error).message}\n${command && HELP[command] ? `Run "synapse ${command} --help" for usage.` : 'Run "synapse --help" for usage.'}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`synapse: ${(error as Error)?.message ?? String(error)}\n`);
    return EXIT.gateway;
  }
}
