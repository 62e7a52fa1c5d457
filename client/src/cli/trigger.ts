/** `synapse trigger <service> <action>`: triggers through GraphQL and prints the outcome. */
import { parseArgs } from 'node:util';
import { gatewayClient, RunActionDefinitionMutation, TriggerActionMutation } from './gateway.js';
import { DEFAULT_GATEWAY, EXIT, type CliIo, UsageError } from './io.js';
import { TERMINAL_STATES } from './progress.js';

export const TRIGGER_USAGE = `Usage: synapse trigger <service> <action> [options]
       synapse trigger <service> --definition <id> [options]

Triggers an action of a service (triggerAction), or runs a registry definition on it
(runActionDefinition), and prints the run's id and state.

Options:
  --input <json>            parameters.input of the command (default null)
  --wait <ms>               wait up to this long (at most 30000) for the outcome
  --definition <id>         run this registry definition instead of an action
  --idempotency-key <key>   the same key and request within 24 h give the same run
  --deadline <time>         RFC 3339 time, or +<ms> from now: the Axon must not start later
  --json                    print the result as one JSON object
  --gateway <url>           gateway (env SYNAPSE_URL; default ${DEFAULT_GATEWAY}); API key in env SYNAPSE_TOKEN
  -h, --help

Exit codes: 0 succeeded (or triggered, without --wait); 1 the run ended otherwise;
2 usage; 3 the gateway refused or is unreachable; 4 still running after --wait.
`;

export async function triggerCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      input: { type: 'string' },
      wait: { type: 'string' },
      definition: { type: 'string' },
      'idempotency-key': { type: 'string' },
      deadline: { type: 'string' },
      json: { type: 'boolean', default: false },
      gateway: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(TRIGGER_USAGE);
    return EXIT.ok;
  }
  const [serviceId, actionId, ...extra] = positionals;
  if (!serviceId) throw new UsageError('trigger: a service id is required');
  if (values.definition === undefined && !actionId) throw new UsageError('trigger: an action id (or --definition <id>) is required');
  if (values.definition !== undefined && actionId) throw new UsageError('trigger: give an action id or --definition, not both');
  if (extra.length > 0) throw new UsageError(`trigger: unexpected argument ${JSON.stringify(extra[0])}`);
  let input: unknown = null;
  if (values.input !== undefined) {
    try {
      input = JSON.parse(values.input);
    } catch {
      throw new UsageError('trigger: --input must be JSON, e.g. --input \'{"force":true}\'');
    }
  }
  let wait: number | undefined;
  if (values.wait !== undefined) {
    if (!/^\d{1,9}$/.test(values.wait)) throw new UsageError('trigger: --wait must be a number of milliseconds');
    wait = Math.min(30_000, Number(values.wait));
  }
  let deadline: string | undefined;
  if (values.deadline !== undefined) {
    const rel = /^\+(\d{1,9})$/.exec(values.deadline);
    const t = rel ? Date.now() + Number(rel[1]) : Date.parse(values.deadline);
    if (!Number.isFinite(t)) throw new UsageError('trigger: --deadline must be an RFC 3339 time or +<ms>');
    deadline = new Date(t).toISOString();
  }
  const common = {
    serviceId,
    input,
    ...(wait !== undefined ? { wait } : {}),
    ...(deadline !== undefined ? { deadline } : {}),
    ...(values['idempotency-key'] !== undefined ? { idempotencyKey: values['idempotency-key'] } : {}),
  };

  const client = gatewayClient(values.gateway ?? io.env.SYNAPSE_URL ?? DEFAULT_GATEWAY, undefined, io.env.SYNAPSE_TOKEN);
  try {
    const response =
      values.definition !== undefined
        ? await client.mutation(RunActionDefinitionMutation, { input: { ...common, definitionId: values.definition } }).toPromise()
        : await client.mutation(TriggerActionMutation, { input: { ...common, actionId: actionId! } }).toPromise();
    if (response.error) {
      io.stderr.write(`synapse: the gateway could not be reached or failed: ${response.error.message}\n`);
      return EXIT.gateway;
    }
    const data = response.data as Record<string, unknown> | undefined;
    const result = (data?.triggerAction ?? data?.runActionDefinition) as
      | { __typename: 'TriggerPayload'; replayed: boolean; run: { id: string; state: string; reason: string | null; output: unknown; error: unknown; serviceId: string; actionId: string } }
      | { __typename: string; code: string; field: string | null; message: string }
      | undefined;
    if (!result) {
      io.stderr.write('synapse: the gateway answered without a result\n');
      return EXIT.gateway;
    }
    if (!('run' in result)) {
      if (values.json) io.stdout.write(`${JSON.stringify({ error: result.code, field: result.field, message: result.message })}\n`);
      io.stderr.write(`synapse: ${result.code}: ${result.message}\n`);
      return EXIT.gateway;
    }
    const { run, replayed } = result;
    const terminal = TERMINAL_STATES.has(run.state);
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ runId: run.id, state: run.state, reason: run.reason, output: run.output, error: run.error, replayed })}\n`);
    } else {
      io.stdout.write(`run ${run.id} ${run.state}${run.reason && terminal ? ` (${run.reason})` : ''}${replayed ? ' [replayed]' : ''}\n`);
      if (terminal && run.state === 'succeeded' && run.output !== null && run.output !== undefined) io.stdout.write(`output: ${JSON.stringify(run.output)}\n`);
      if (terminal && run.state !== 'succeeded' && run.error !== null && run.error !== undefined) io.stdout.write(`error: ${JSON.stringify(run.error)}\n`);
      if (!terminal && wait !== undefined) io.stderr.write(`still ${run.state} after ${wait} ms; follow it with: synapse tail ${run.id}\n`);
    }
    if (terminal) return run.state === 'succeeded' ? EXIT.ok : EXIT.runFailed;
    return wait !== undefined ? EXIT.stillRunning : EXIT.ok;
  } finally {
    await client.dispose();
  }
}
